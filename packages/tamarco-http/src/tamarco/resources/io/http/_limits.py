"""Connection limits shared by the HTTP server and the report server.

``max_connections``: a connection accepted beyond it gets ``503 Service Unavailable`` and is
closed at once, so ten thousand idle sockets cannot take the service's memory. A warning says
so at most every :data:`WARN_EVERY_SECONDS`.
"""

from __future__ import annotations

import asyncio
import logging
from time import monotonic

__all__ = ["BUSY_RESPONSE", "ConnectionLimit"]

BUSY_RESPONSE = b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
WARN_EVERY_SECONDS = 10.0


class ConnectionLimit:
    """``max_connections`` of one server, and the refusals it made."""

    def __init__(self, server: str, maximum: int, logger: logging.Logger) -> None:
        self.server = server
        self.maximum = maximum
        self.logger = logger
        self.refused = 0
        self._warned_at: float | None = None

    def refuse(self, transport: asyncio.BaseTransport, open_connections: int) -> None:
        """Answer 503 on ``transport`` and close it."""
        self.refused += 1
        if isinstance(transport, asyncio.WriteTransport):
            transport.write(BUSY_RESPONSE)
        transport.close()
        now = monotonic()
        if self._warned_at is None or now - self._warned_at >= WARN_EVERY_SECONDS:
            self._warned_at = now
            self.logger.warning(
                "%s: %d connections open, max_connections is %d: refusing new ones with 503 (%d refused so far)",
                self.server,
                open_connections - 1,
                self.maximum,
                self.refused,
            )
