"""The file output on a full disk (/dev/full): counted, reported at a bounded rate, no traceback
per record, and a clean stop."""

from __future__ import annotations

import errno
import logging
import os

import pytest
from tamarco.core.logging import Logging
from tamarco.core.logging.logging import FileOutputHandler
from tamarco.core.logging.testing import capture_logs
from tamarco.core.settings.settings import Settings, SettingsView

pytestmark = pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")


async def test_a_full_disk_is_counted_and_reported_not_raised(capsys: pytest.CaptureFixture[str]) -> None:
    settings = Settings(microservice_name="full_disk", environ={})
    settings.update_internal({"system": {"logging": {"file_path": "/dev/full", "file_max_bytes": 0}}})
    await settings.start()
    configured = Logging()
    configured.configure_settings(SettingsView(settings, "system.logging"))
    await configured.start(["full_disk"], "full_disk", None)
    (handler,) = [h for h in configured.handlers if isinstance(h, FileOutputHandler)]
    with capture_logs() as logs:
        for number in range(200):
            logging.getLogger("full_disk").info("record %d", number)
        await configured.stop()  # must not raise OSError
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err and "--- Logging error ---" not in captured.err
    assert handler.write_errors >= 200
    reports = logs.filter(logger="tamarco.logging", contains="cannot write to /dev/full")
    assert len(reports) == 1, logs.messages  # rate-limited: one report for 200 failures
    assert "No space left on device" in reports[0].message
    assert logs.filter(logger="tamarco.logging", contains="records were not written in total")
    assert "record 199" in captured.out  # stdout still got every record


class _FailingStream:
    def __init__(self) -> None:
        self.fail = True
        self.lines: list[str] = []

    def write(self, text: str) -> None:
        if self.fail:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self.lines.append(text)

    def flush(self) -> None:
        if self.fail:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def close(self) -> None:
        pass


def test_the_recovery_is_reported_once(tmp_path) -> None:
    handler = FileOutputHandler(str(tmp_path / "out.log"))
    handler.stream.close()
    stream = _FailingStream()
    handler.stream = stream  # type: ignore[assignment]
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "hello", (), None)
    with capture_logs() as logs:
        handler.handle(record)
        handler.handle(record)
        stream.fail = False
        handler.handle(record)
        handler.handle(record)
        handler.close()
    assert handler.write_errors == 2
    assert len(logs.filter(contains="cannot write to")) == 1
    assert len(logs.filter(contains="writes again to")) == 1
    assert stream.lines == ["hello\n", "hello\n"]
