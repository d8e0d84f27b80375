"""Helpers shared by the tamarco-status tests: an in-memory report server for unit tests,
resources whose status a test drives, and a way to run a service in the test's loop."""

from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import parse_qsl

import pytest
from tamarco.core.microservice import Microservice
from tamarco.core.report_server import ReportRequest
from tamarco.core.testing import wait_until
from tamarco.resources.bases import BaseResource, StatusCodes


class InMemoryReportServer(BaseResource):
    """Stands for ``tamarco_http_report_server`` in unit tests: keeps the routes, no socket.

    It implements :class:`tamarco.core.report_server.ReportServer`, the contract status and the
    debug resources find the report server by.
    """

    url: str | None = None
    port: int | None = None

    def __init__(self) -> None:
        super().__init__()
        self.routes: dict[tuple[str, str], Any] = {}

    def add_route(self, method: str, path: str, handler: Any) -> None:
        if self.status_code == StatusCodes.STARTED:
            raise RuntimeError("routes must be added before the report server starts")
        self.routes[(method, path)] = handler

    async def get(self, path: str) -> tuple[int, Any, dict[str, str]]:
        """Call the handler of ``GET path``: (HTTP code, decoded body, headers)."""
        route, _, query = path.partition("?")
        handler = self.routes[("GET", route)]
        response = await handler(ReportRequest("GET", route, dict(parse_qsl(query))))
        body: Any = response.body
        mime = response.content_type.partition(";")[0]
        if mime == "application/json":
            body = json.loads(response.body) if response.body else None
        elif mime.startswith("text/"):
            body = response.body.decode()
        return response.status, body, {"Content-Type": response.content_type, **response.headers}


class Controlled(BaseResource):
    """A resource whose start, stop and status a test controls."""

    def __init__(self, fail_starts: int = 0, connecting: bool = False) -> None:
        super().__init__()
        self.fail_starts = fail_starts
        self.connecting = connecting
        self.starts = 0
        self.stops = 0

    async def start(self) -> None:
        self.starts += 1
        if self.fail_starts:
            self.fail_starts -= 1
            raise ConnectionError(f"{self.name}: cannot connect (start #{self.starts})")
        if self.connecting:
            self.set_status(StatusCodes.CONNECTING)
            return
        await super().start()

    async def stop(self) -> None:
        self.stops += 1
        await super().stop()

    def fail(self, message: str = "connection lost") -> None:
        self.set_status(StatusCodes.FAILED, ConnectionError(message))


class Running:
    """A service run with ``run_until_stopped()`` in a task of the test's loop."""

    def __init__(self, service: Microservice) -> None:
        self.service = service
        self.task: asyncio.Task[int] | None = None

    async def __aenter__(self) -> Running:
        self.task = asyncio.create_task(self.service.run_until_stopped())
        await wait_until(lambda: self.service.state in ("running", "stopping", "stopped") or self.task.done())
        return self

    async def stop(self, timeout: float = 15.0) -> int:
        assert self.task is not None
        if not self.task.done():
            await self.service.stop_gracefully()
        return await asyncio.wait_for(self.task, timeout)

    async def __aexit__(self, *exc: Any) -> None:
        if self.task is not None and not self.task.done():
            await self.stop()


class Kit:
    """The helpers above, handed to tests by the ``kit`` fixture (tests/ is not a package)."""

    ReportServer = InMemoryReportServer
    Controlled = Controlled
    Running = Running
    wait_until = staticmethod(wait_until)


@pytest.fixture
def kit() -> type[Kit]:
    return Kit


@pytest.fixture
def logs():
    """What the services logged during the test (Tamarco's loggers do not propagate)."""
    from tamarco.core.logging.testing import capture_logs

    with capture_logs() as captured:
        yield captured
