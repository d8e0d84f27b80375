"""HTTPClientResource: an aiohttp ``ClientSession`` opened on start and closed on stop."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urlsplit, urlunsplit

from tamarco.core import tracing
from tamarco.core.urls import PERCENT_ENCODE_HINT, authority_problem
from tamarco.resources.bases import BaseResource, StatusCodes
from tamarco.resources.io.http import _settings
from tamarco.resources.io.http._errors import HTTPResourceError, HTTPSettingsError
from tamarco.resources.io.http._tracing import client_trace_config

if TYPE_CHECKING:
    import aiohttp
    from tamarco.core.settings.settings import SettingsView

__all__ = ["HTTPClientResource"]


class HTTPClientResource(BaseResource):
    """An HTTP client (aiohttp) whose :attr:`session` lives as long as the service runs.

    Settings (``system.resources.<name>``, all optional):

    - ``base_url``: relative URLs given to the session are resolved against it;
    - ``timeout`` (total seconds per request, default 300), ``connect_timeout``,
      ``read_timeout`` (seconds between two reads of the response);
    - ``limit`` (open connections, default 100; 0 = no limit), ``limit_per_host`` (default 0);
    - ``headers``: a dict of headers sent with every request.

    When the service traces (``system.tracing``), each request is a CLIENT span and carries
    the ``traceparent`` of it.

    ``status()`` shows the base URL without credentials.
    """

    loggers_names = ("tamarco.http",)
    #: The keys of its settings; another one is an error naming it (a subclass may add its own).
    settings_keys: ClassVar[tuple[str, ...]] = _settings.CLIENT_KEYS

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._session: aiohttp.ClientSession | None = None
        self.base_url: str | None = None

    @property
    def session(self) -> aiohttp.ClientSession:
        """The open session. Using it before start (or after stop) is a clear error."""
        if self._session is None:
            raise HTTPResourceError(f"HTTP client {self.name!r} is not started: its session is closed")
        return self._session

    def _view(self) -> SettingsView:
        if self.settings is None:
            raise HTTPResourceError(
                f"{type(self).__name__} has no settings: declare it as a class attribute of a "
                "Microservice (or MicroserviceContext) and start the service"
            )
        return self.settings

    def _read_settings(self) -> dict[str, Any]:
        """Every setting the client reads, checked: all the wrong ones are reported together."""
        view = self._view()

        def limit(key: str, default: int) -> int:
            value = int(_settings.read(view, key, default, int))
            if value < 0:
                raise HTTPSettingsError(view.full_key(key), f"must be 0 (no limit) or more, got {value}")
            return value

        return _settings.read_all(
            view,
            {
                "known": lambda: _settings.check_known(view, self.settings_keys),
                "base_url": lambda: _base_url(view),
                "timeout": lambda: _settings.read_positive(view, "timeout", 300.0),
                "connect_timeout": lambda: _settings.read_positive(view, "connect_timeout", None),
                "read_timeout": lambda: _settings.read_positive(view, "read_timeout", None),
                "limit": lambda: limit("limit", 100),
                "limit_per_host": lambda: limit("limit_per_host", 0),
                "headers": lambda: _settings.read(view, "headers", None, (dict, type(None))),
            },
        )

    async def check_settings(self) -> None:
        self._read_settings()

    async def start(self) -> None:
        read = self._read_settings()
        base_url, limit, limit_per_host, headers = (
            read["base_url"],
            read["limit"],
            read["limit_per_host"],
            read["headers"],
        )
        import aiohttp  # here: a service that declares no client never imports aiohttp's client side

        timeout = aiohttp.ClientTimeout(
            total=read["timeout"], connect=read["connect_timeout"], sock_read=read["read_timeout"]
        )
        self.set_status(StatusCodes.CONNECTING)
        connector = aiohttp.TCPConnector(limit=limit, limit_per_host=limit_per_host)
        service_tracing = tracing.of(self.microservice)
        # Traced: a CLIENT span per request, its traceparent injected (nothing when off).
        trace_configs = [client_trace_config(service_tracing)] if service_tracing.enabled else None
        self._session = aiohttp.ClientSession(
            base_url=base_url, timeout=timeout, connector=connector, headers=headers, trace_configs=trace_configs
        )
        self.base_url = base_url
        await super().start()

    async def stop(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()
        await super().stop()

    async def status(self) -> dict[str, Any]:
        info = await super().status()
        if self.base_url is not None:
            info["base_url"] = _without_credentials(self.base_url)
        return info


def _without_credentials(url: str) -> str:
    """``url`` with any ``user:password@`` removed (for logs, errors and /status)."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def _base_url(view: SettingsView) -> str | None:
    """``base_url``: None, or an http(s) URL whose user info (if any) is percent-encoded."""
    base_url = _settings.read(view, "base_url", None, (str, type(None)))
    if base_url is not None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise HTTPSettingsError(
                view.full_key("base_url"), f"{_without_credentials(base_url)!r} is not an http(s) URL"
            )
        problem = authority_problem(base_url)
        if problem is not None:
            raise HTTPSettingsError(view.full_key("base_url"), f"is not a valid URL: {problem}; {PERCENT_ENCODE_HINT}")
    return base_url
