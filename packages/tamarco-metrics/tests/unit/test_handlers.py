"""The periodic handlers against in-memory or loopback fakes (the real carbon is in
tests/functional): reconnection, one warning per outage, nothing lost while it lasts."""

from __future__ import annotations

import asyncio
import io
import logging
from pathlib import Path

import pytest
from tamarco.resources.basic.metrics import CarbonHandler, FileHandler, StdoutHandler


class FakeCarbon:
    """A loopback TCP server collecting the plaintext lines it receives."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.received = asyncio.Event()
        self.server: asyncio.Server | None = None
        self.port = 0
        self.connections: list[asyncio.StreamWriter] = []

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections.append(writer)
        while line := await reader.readline():
            self.lines.append(line.decode())
            self.received.set()
        writer.close()

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        self.port = self.server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        assert self.server is not None
        self.server.close()
        for writer in self.connections:
            writer.close()
        self.connections.clear()
        await self.server.wait_closed()

    async def wait_lines(self, count: int, timeout: float = 5.0) -> list[str]:
        async def enough() -> None:
            while len(self.lines) < count:
                self.received.clear()
                await self.received.wait()

        await asyncio.wait_for(enough(), timeout)
        return self.lines


async def test_carbon_handler_sends_lines() -> None:
    carbon = FakeCarbon()
    await carbon.start()
    handler = CarbonHandler("127.0.0.1", carbon.port, timeout=2)
    try:
        await handler.emit(["a.b 1 10\n", "a.c 2 10\n"])
        await handler.emit(["a.b 2 20\n"])
        assert await carbon.wait_lines(3) == ["a.b 1 10\n", "a.c 2 10\n", "a.b 2 20\n"]
        assert handler.connected and handler.sent_lines == 3
        assert len(carbon.connections) == 1  # one connection reused
    finally:
        await handler.close()
        await carbon.stop()


async def test_carbon_outage_one_warning_then_delivery(caplog: pytest.LogCaptureFixture) -> None:
    carbon = FakeCarbon()
    await carbon.start()
    port = carbon.port
    await carbon.stop()  # nothing listens on the port now
    handler = CarbonHandler("127.0.0.1", port, timeout=2)
    try:
        with caplog.at_level(logging.INFO, logger="tamarco.metrics"):
            await handler.emit(["m 1 10\n"])
            await handler.emit(["m 2 20\n"])
            await handler.emit(["m 3 30\n"])
            warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
            assert len(warnings) == 1
            assert f"carbon at 127.0.0.1:{port} unreachable" in warnings[0].getMessage()
            assert handler.in_outage and len(handler.pending) == 3
            assert handler.describe()["last_error"]

            carbon.port = port
            await carbon.start()
            await handler.emit(["m 4 40\n"])
            assert await carbon.wait_lines(4) == ["m 1 10\n", "m 2 20\n", "m 3 30\n", "m 4 40\n"]
            assert not handler.in_outage and not handler.pending
            assert "reachable again: sent 4 delayed lines (0 dropped" in caplog.text
    finally:
        await handler.close()
        await carbon.stop()


async def test_carbon_reconnects_after_the_server_closes_the_connection() -> None:
    carbon = FakeCarbon()
    await carbon.start()
    handler = CarbonHandler("127.0.0.1", carbon.port, timeout=2)
    try:
        await handler.emit(["x 1 1\n"])
        await carbon.wait_lines(1)
        for writer in carbon.connections:  # carbon drops the client
            writer.close()
        carbon.connections.clear()

        watch = handler._eof_watch
        assert watch is not None
        await asyncio.wait_for(watch, 5)  # the handler saw carbon close the connection
        assert not handler.connected
        await handler.emit(["x 2 2\n"])
        assert await carbon.wait_lines(2) == ["x 1 1\n", "x 2 2\n"]
    finally:
        await handler.close()
        await carbon.stop()


async def test_carbon_pending_lines_are_bounded(caplog: pytest.LogCaptureFixture) -> None:
    carbon = FakeCarbon()
    await carbon.start()
    port = carbon.port
    await carbon.stop()
    handler = CarbonHandler("127.0.0.1", port, timeout=2, max_pending_lines=3)
    try:
        await handler.emit(["a 1 1\n", "b 1 1\n"])
        await handler.emit(["c 1 1\n", "d 1 1\n"])
        assert list(handler.pending) == ["b 1 1\n", "c 1 1\n", "d 1 1\n"]
        assert handler.dropped == 1
        carbon.port = port
        await carbon.start()
        with caplog.at_level(logging.INFO, logger="tamarco.metrics"):
            await handler.emit([])
            assert await carbon.wait_lines(3) == ["b 1 1\n", "c 1 1\n", "d 1 1\n"]
        assert "(1 dropped during the outage)" in caplog.text
    finally:
        await handler.close()
        await carbon.stop()


async def test_file_handler_appends(tmp_path: Path) -> None:
    path = tmp_path / "metrics.txt"
    handler = FileHandler(str(path))
    await handler.emit(["a 1 1\n"])
    await handler.emit(["a 2 2\n", "b 1 2\n"])
    assert path.read_text() == "a 1 1\na 2 2\nb 1 2\n"


async def test_file_handler_failure_is_one_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "missing_dir" / "metrics.txt"
    handler = FileHandler(str(path))
    with caplog.at_level(logging.INFO, logger="tamarco.metrics"):
        await handler.emit(["a 1 1\n"])
        await handler.emit(["a 2 2\n"])
        assert [r.levelname for r in caplog.records] == ["WARNING"]
        assert str(path) in caplog.records[0].getMessage()
        path.parent.mkdir()
        await handler.emit(["a 3 3\n"])
    assert path.read_text() == "a 3 3\n"
    assert "appending metrics to" in caplog.text


async def test_stdout_handler_writes() -> None:
    stream = io.StringIO()
    await StdoutHandler(stream).emit(["a 1 1\n", "b 2 1\n"])
    assert stream.getvalue() == "a 1 1\nb 2 1\n"
