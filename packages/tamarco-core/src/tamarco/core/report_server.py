"""The report-server contract: a resource that serves the service's operational endpoints.

Metrics (``/metrics``), status (``/status``, ``/health/*``) and the debug resources publish
their endpoints on one small HTTP server of the service, and the registry announces its port.
Core owns the contract; tamarco-http's ``ReportServerResource`` (a default resource of every
service) implements it, and the plugins find it through
:func:`find_report_server`, never by its resource name, so that any resource satisfying
:class:`ReportServer` can take its place::

    from tamarco.core.report_server import ReportServer, find_report_server

    class MyEndpoints(BaseResource):
        depends_on = (ReportServer,)  # started after the report server, if the service has one

        async def pre_start(self) -> None:
            server = find_report_server(self.microservice)
            if server is None:
                self.logger.warning("no report server: GET /mine is not served")
            else:
                server.add_route("GET", "/mine", self.handle_mine)

        async def handle_mine(self, request: ReportRequest) -> ReportResponse:
            return ReportResponse.json({"mine": True})

A route handler takes a :class:`ReportRequest` and returns a :class:`ReportResponse`: plain
types of this module, so a plugin serving endpoints needs no HTTP library and does not depend
on the one implementing the server.

A contract in ``depends_on`` orders the resource after every resource of the service that
satisfies it; a service without one is not an error there (each plugin says in its log what it
does without it).

Why here and not in ``tamarco.resources.bases``: bases are what a resource *is*; this is a
contract between plugins, like :mod:`tamarco.core.instrumentation`, and core keeps those
contracts in ``tamarco.core``.
"""

from __future__ import annotations

import json as _json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from tamarco.core.microservice import MicroserviceBase

__all__ = ["ReportRequest", "ReportResponse", "ReportServer", "RouteHandler", "find_report_server"]


@dataclass(slots=True, repr=False)
class ReportRequest:
    """One request to a report-server route, as the server parsed it.

    ``method`` in upper case; ``path`` without the query string; ``query`` the query
    string's parameters (the first value of a repeated name); ``headers`` with names in lower
    case (:meth:`header` looks one up whatever its case); ``body`` the raw bytes;
    ``match_info`` the values of the route path's ``{name}`` segments.
    """

    method: str
    path: str
    query: Mapping[str, str] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    match_info: Mapping[str, str] = field(default_factory=dict)

    def header(self, name: str, default: str | None = None) -> str | None:
        """The value of header ``name`` (any case), or ``default``."""
        return self.headers.get(name.lower(), default)

    def __repr__(self) -> str:
        return f"<ReportRequest {self.method} {self.path}>"


class ReportResponse:
    """What a report-server route answers: a status, headers and a whole body.

    ``ReportResponse(body, status=200, content_type="text/plain; charset=utf-8", headers={})``
    takes ``bytes`` or ``str`` (encoded as UTF-8); :meth:`json` and :meth:`text` build the
    usual ones. The server adds ``Content-Type`` (from ``content_type``) and
    ``Content-Length``; ``headers`` holds any other (``Content-Encoding`` for a body the
    handler compressed, ``WWW-Authenticate``...). A 1xx, 204 or 304 status is sent without a
    body, as HTTP requires.
    """

    __slots__ = ("body", "content_type", "headers", "status")

    def __init__(
        self,
        body: bytes | str = b"",
        status: int = 200,
        content_type: str = "text/plain; charset=utf-8",
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.body = body.encode() if isinstance(body, str) else body
        self.status = status
        self.content_type = content_type
        self.headers = dict(headers) if headers else {}

    @classmethod
    def json(
        cls,
        data: Any,
        status: int = 200,
        headers: Mapping[str, str] | None = None,
        dumps: Callable[[Any], str] = _json.dumps,
    ) -> ReportResponse:
        """``data`` as ``application/json`` (``dumps`` encodes it)."""
        return cls(dumps(data), status, "application/json", headers)

    @classmethod
    def text(
        cls, text: str, status: int = 200, content_type: str = "text/plain", headers: Mapping[str, str] | None = None
    ) -> ReportResponse:
        """``text`` as UTF-8 of ``content_type`` (``text/plain`` by default)."""
        return cls(text, status, f"{content_type}; charset=utf-8", headers)

    def __repr__(self) -> str:
        return f"<ReportResponse {self.status} {self.content_type} {len(self.body)} bytes>"


#: ``handler(request) -> response``: a route of the report server.
RouteHandler = Callable[[ReportRequest], Awaitable[ReportResponse]]


@runtime_checkable
class ReportServer(Protocol):
    """A resource that serves the service's operational endpoints over HTTP.

    Routes are added before the server starts (in ``pre_start`` of a resource that depends on
    :class:`ReportServer`); adding one again in a later start cycle replaces it.
    """

    def add_route(self, method: str, path: str, handler: RouteHandler) -> None:
        """Serve ``handler`` for ``method path``: ``path`` starts with ``/``, and a segment
        ``{name}`` matches any one segment, whose value the handler finds in
        ``request.match_info["name"]``."""

    @property
    def url(self) -> str | None:
        """``http://host:port`` once the server is listening, else None."""

    @property
    def port(self) -> int | None:
        """The port it listens on once started, else None."""


def find_report_server(microservice: MicroserviceBase | None) -> ReportServer | None:
    """The service's report server: its first resource satisfying :class:`ReportServer`, or None."""
    if microservice is None:
        return None
    for resource in microservice.resources.values():
        if isinstance(resource, ReportServer):
            return resource
    return None
