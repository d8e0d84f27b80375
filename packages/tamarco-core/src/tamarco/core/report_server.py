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

A contract in ``depends_on`` orders the resource after every resource of the service that
satisfies it; a service without one is not an error there (each plugin says in its log what it
does without it).

Why here and not in ``tamarco.resources.bases``: bases are what a resource *is*; this is a
contract between plugins, like :mod:`tamarco.core.instrumentation`, and core keeps those
contracts in ``tamarco.core``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from tamarco.core.microservice import MicroserviceBase

__all__ = ["ReportServer", "RouteHandler", "find_report_server"]

#: ``handler(request) -> response``: the request and response types are the implementation's
#: (``aiohttp.web.Request`` and ``aiohttp.web.StreamResponse`` for tamarco-http's).
RouteHandler = Callable[[Any], Awaitable[Any]]


@runtime_checkable
class ReportServer(Protocol):
    """A resource that serves the service's operational endpoints over HTTP.

    Routes are added before the server starts (in ``pre_start`` of a resource that depends on
    :class:`ReportServer`); adding one again in a later start cycle replaces it.
    """

    def add_route(self, method: str, path: str, handler: RouteHandler) -> None:
        """Serve ``handler`` for ``method path`` (``path`` starts with ``/``)."""

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
