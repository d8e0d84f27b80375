"""Where queued records go: Logstash over UDP, a Redis list or channel, HTTP batches.

Each transport connects lazily on the first ``send``, raises on a network error (the
:class:`~tamarco.core.logging.queued.QueuedHandler` retries and reports), and reconnects on
the next ``send`` after ``close``. The Redis and HTTP client libraries are imported only when
such a transport is built; a missing one is a :class:`MissingDependencyError` naming the
setting that asked for it.
"""

from __future__ import annotations

import asyncio
import base64
import socket
from typing import Any
from urllib.parse import urlsplit

from tamarco.core.logging.config import LoggingSettingsError, redact_url
from tamarco.core.logging.queued import BatchRejected

__all__ = [
    "HTTPTransport",
    "MissingDependencyError",
    "RedisTransport",
    "UDPTransport",
]

#: The largest payload one IPv4 UDP datagram carries.
MAX_DATAGRAM = 65_507


class MissingDependencyError(LoggingSettingsError):
    """A logging output is enabled but the library it needs is not installed."""


class UDPTransport:
    """One JSON event per UDP datagram (the Logstash ``udp`` input with the ``json`` codec).

    A record larger than a datagram cannot be sent: it is rejected (counted as dropped).
    """

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self.description = f"udp://{host}:{port}"
        self._socket: socket.socket | None = None
        self._address: Any = None

    async def _connect(self) -> socket.socket:
        loop = asyncio.get_running_loop()
        infos = await loop.getaddrinfo(self.host, self.port, type=socket.SOCK_DGRAM)
        family, kind, proto, _, address = infos[0]
        sock = socket.socket(family, kind, proto)
        sock.setblocking(False)
        self._socket, self._address = sock, address
        return sock

    async def send(self, batch: list[bytes]) -> None:
        sock = self._socket or await self._connect()
        oversized = 0
        for index, payload in enumerate(batch):
            if len(payload) > MAX_DATAGRAM:
                oversized += 1
                continue
            try:
                sock.sendto(payload, self._address)
            except BlockingIOError:
                # The socket buffer is full: keep the unsent part for the retry.
                del batch[:index]
                raise
        if oversized:
            raise BatchRejected(
                f"{oversized} records larger than a UDP datagram ({MAX_DATAGRAM} bytes)", count=oversized
            )

    async def close(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None


class RedisTransport:
    """``RPUSH`` to a Redis list, or ``PUBLISH`` to a channel (Logstash's ``redis`` input,
    ``data_type`` ``list`` or ``channel``, with the same ``key``)."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        key: str = "logstash",
        data_type: str = "list",
        password: str | None = None,
        ssl: bool = False,
        db: int = 0,
        timeout: float = 5.0,
    ) -> None:
        try:
            import redis.asyncio  # noqa: F401
        except ImportError as error:
            raise MissingDependencyError(
                "setting system.logging.redis.enabled is true but the redis client is not "
                "installed: pip install 'tamarco-core[redis]'"
            ) from error
        if data_type not in ("list", "channel"):
            raise ValueError(f"data_type must be 'list' or 'channel', not {data_type!r}")
        self.host, self.port, self.key, self.data_type = host, port, key, data_type
        self.db, self.ssl, self.timeout = db, ssl, timeout
        self._password = password
        self.secrets: tuple[str, ...] = (password,) if password else ()
        scheme = "rediss" if ssl else "redis"
        self.description = f"{scheme}://{host}:{port}/{db} {data_type} {key}"
        self._client: Any = None

    def _connect(self) -> Any:
        from redis.asyncio import Redis
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff

        self._client = Redis(
            host=self.host,
            port=self.port,
            db=self.db,
            password=self._password,
            ssl=self.ssl,
            socket_timeout=self.timeout,
            socket_connect_timeout=self.timeout,
            retry=Retry(NoBackoff(), 0),  # the queued handler owns retries and backoff
        )
        return self._client

    async def send(self, batch: list[bytes]) -> None:
        client = self._client or self._connect()
        if self.data_type == "list":
            await client.rpush(self.key, *batch)
            return
        async with client.pipeline(transaction=False) as pipe:
            for payload in batch:
                pipe.publish(self.key, payload)
            await pipe.execute()

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()


class HTTPTransport:
    """POST a JSON array of events (Logstash's ``http`` input with the ``json`` codec splits
    it into events), with HTTP basic auth when a user is set.

    4xx answers other than 408 and 429 reject the batch (counted as dropped); 5xx and
    network errors are retried.
    """

    def __init__(
        self,
        url: str,
        *,
        user: str | None = None,
        password: str | None = None,
        timeout: float = 10.0,
    ) -> None:
        try:
            import aiohttp  # noqa: F401
        except ImportError as error:
            raise MissingDependencyError(
                "setting system.logging.http.enabled is true but aiohttp is not installed: "
                "pip install 'tamarco-core[logging-http]' (or tamarco-http)"
            ) from error
        self.url = url
        self.user = user
        self._password = password
        self.secrets: tuple[str, ...] = tuple(p for p in (password, urlsplit(url).password) if p)
        self.timeout = timeout
        self.description = redact_url(url)
        self._session: Any = None

    def _connect(self) -> Any:
        import aiohttp

        headers = {"Content-Type": "application/json"}
        if self.user:
            credentials = f"{self.user}:{self._password or ''}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(credentials).decode("ascii")
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout), headers=headers)
        return self._session

    async def send(self, batch: list[bytes]) -> None:
        session = self._session or self._connect()
        body = b"[" + b",".join(batch) + b"]"
        async with session.post(self.url, data=body) as response:
            if response.status < 300:
                await response.read()
                return
            text = (await response.text(errors="replace"))[:200]
            if self._password:
                text = text.replace(self._password, "********")
            message = f"HTTP {response.status} {response.reason}: {text}"
            if 400 <= response.status < 500 and response.status not in (408, 429):
                raise BatchRejected(message)
            raise ConnectionError(message)

    async def close(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()
