"""An expected start failure (a port in use, a bad setting) is logged as one line without a
traceback; the traceback is kept at DEBUG. An unexpected one keeps its traceback at ERROR."""

from __future__ import annotations

import logging

import pytest
from tamarco.core.errors import ExpectedStartFailure, ResourceStartError
from tamarco.core.logging.testing import capture_logs
from tamarco.core.microservice import MicroserviceContext
from tamarco.resources.bases import BaseResource


class PortTaken(ExpectedStartFailure, OSError):
    pass


class Failing(BaseResource):
    def __init__(self, error: Exception) -> None:
        super().__init__()
        self.error = error

    async def start(self) -> None:
        raise self.error


async def start_failing(error: Exception) -> list:
    service_class = type("Failer", (MicroserviceContext,), {"name": "failer", "server": Failing(error)})
    service = service_class(environ={})
    service.settings.update_internal({"system": {"logging": {"profile": "DEVELOP"}}})
    with capture_logs() as logs:
        with pytest.raises(ResourceStartError):
            await service.start()
        await service.stop()
    return [record for record in logs if "server" in record.message and "fail" in record.message.lower()]


async def test_an_expected_failure_has_its_traceback_at_debug_only():
    records = await start_failing(PortTaken("127.0.0.1:80 is already in use: set system.resources.server.port"))
    assert records, "the failure was not logged"
    assert all(record.exc_info is None for record in records if record.levelno > logging.DEBUG), records
    assert any(record.exc_info for record in records if record.levelno == logging.DEBUG), records


async def test_an_unexpected_failure_keeps_its_traceback():
    records = await start_failing(RuntimeError("boom"))
    assert any(record.exc_info for record in records if record.levelno >= logging.ERROR), records
