"""The periodic handlers: carbon (plaintext over TCP), file and stdout.

Each receives, every ``collect_frequency`` seconds, the Graphite lines of the service's
meters (see ``_graphite``). A handler never raises into the resource: a failure is logged
once per outage and the meters keep accumulating (they are cumulative), so the next
successful send carries the current values.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import logging
import sys
from collections import deque
from pathlib import Path
from typing import TextIO

__all__ = ["CarbonHandler", "FileHandler", "LinesHandler", "StdoutHandler"]

logger = logging.getLogger("tamarco.metrics")


class LinesHandler(abc.ABC):
    """Where the Graphite lines go. ``emit`` is called from one task at a time."""

    kind: str = "lines"

    @abc.abstractmethod
    async def emit(self, lines: list[str]) -> None:
        """Deliver one collection's lines (each ends with a newline)."""

    async def close(self) -> None:  # noqa: B027 - optional hook, nothing to release by default
        """Release connections and files."""

    def describe(self) -> dict[str, object]:
        """What ``status()`` shows about the handler (never credentials)."""
        return {"kind": self.kind}


class CarbonHandler(LinesHandler):
    """Carbon's plaintext protocol over TCP, reconnecting after errors.

    Lines that could not be sent wait (up to ``max_pending_lines``, oldest dropped first) and
    go out with the next successful send. The first failure of an outage is one warning; the
    recovery is one info line saying how many lines were delayed or dropped.

    Plaintext TCP has no acknowledgements: lines written just before carbon goes away can be
    lost without an error (the next write then fails and reconnects).
    """

    kind = "carbon"

    def __init__(self, host: str, port: int, timeout: float = 5.0, max_pending_lines: int = 100_000) -> None:
        self.host = host
        self.port = port
        self.timeout = timeout
        self.pending: deque[str] = deque(maxlen=max_pending_lines)
        self.dropped = 0
        self.sent_lines = 0
        self.in_outage = False
        self.last_error: str | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._eof_watch: asyncio.Task[None] | None = None

    @property
    def connected(self) -> bool:
        return self._writer is not None and not self._writer.is_closing()

    async def _connect(self) -> asyncio.StreamWriter:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(self.host, self.port), self.timeout)
        self._writer = writer
        self._eof_watch = asyncio.get_running_loop().create_task(self._watch_eof(reader, writer))
        return writer

    async def _watch_eof(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Carbon never writes: EOF or an error on the read side means the peer went away."""
        with contextlib.suppress(OSError, asyncio.IncompleteReadError):
            while await reader.read(4096):
                pass
        if self._writer is writer:
            self._writer = None
        writer.close()

    async def emit(self, lines: list[str]) -> None:
        room = self.pending.maxlen or 0
        overflow = len(self.pending) + len(lines) - room
        if overflow > 0:
            self.dropped += overflow
        self.pending.extend(lines)
        if not self.pending:
            return
        payload = "".join(self.pending).encode()
        count = len(self.pending)
        try:
            writer = self._writer
            if writer is None or writer.is_closing():
                writer = await self._connect()
            writer.write(payload)
            await asyncio.wait_for(writer.drain(), self.timeout)
        except (TimeoutError, OSError) as error:
            await self._disconnect()
            self.last_error = f"{type(error).__name__}: {error}"
            if not self.in_outage:
                self.in_outage = True
                logger.warning(
                    "carbon at %s:%s unreachable (%s): metrics keep accumulating and are sent when it is back",
                    self.host,
                    self.port,
                    self.last_error,
                )
            return
        for _ in range(count):
            self.pending.popleft()
        self.sent_lines += count
        if self.in_outage:
            self.in_outage = False
            logger.info(
                "carbon at %s:%s reachable again: sent %d delayed lines (%d dropped during the outage)",
                self.host,
                self.port,
                count,
                self.dropped,
            )
            self.dropped = 0

    async def _disconnect(self) -> None:
        writer, self._writer = self._writer, None
        watch, self._eof_watch = self._eof_watch, None
        if watch is not None:
            watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watch
        if writer is not None:
            writer.close()
            with contextlib.suppress(OSError, asyncio.TimeoutError):
                await asyncio.wait_for(writer.wait_closed(), self.timeout)

    async def close(self) -> None:
        await self._disconnect()

    def describe(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "address": f"{self.host}:{self.port}",
            "connected": self.connected,
            "pending_lines": len(self.pending),
            "last_error": self.last_error if self.in_outage else None,
        }


class FileHandler(LinesHandler):
    """Append the lines to a file (opened for each collection, so log rotation is fine)."""

    kind = "file"

    def __init__(self, path: str) -> None:
        self.path = Path(path)
        self.failing = False

    def _append(self, data: str) -> None:
        with self.path.open("a", encoding="utf-8") as file:
            file.write(data)

    async def emit(self, lines: list[str]) -> None:
        if not lines:
            return
        try:
            await asyncio.to_thread(self._append, "".join(lines))
        except OSError as error:
            if not self.failing:
                self.failing = True
                logger.warning("cannot append metrics to %s: %s", self.path, error)
            return
        if self.failing:
            self.failing = False
            logger.info("appending metrics to %s again", self.path)

    def describe(self) -> dict[str, object]:
        return {"kind": self.kind, "path": str(self.path), "failing": self.failing}


class StdoutHandler(LinesHandler):
    """Write the lines to standard output."""

    kind = "stdout"

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream

    async def emit(self, lines: list[str]) -> None:
        if not lines:
            return
        stream = self.stream if self.stream is not None else sys.stdout
        stream.write("".join(lines))
        stream.flush()
