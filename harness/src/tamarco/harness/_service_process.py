"""A service run in a subprocess for a functional test: output read by a thread, waits that
always end, signals, and the exit code.

::

    with ServiceProcess("examples/amqp_push_pull.py", settings={"system": {...}}) as service:
        service.wait_for(r"Consumed message", timeout=30)
        assert service.terminate() == 0        # SIGTERM, then the exit code

The settings mapping, when given, is written as YAML to a temporary file named by
``TAMARCO_YML_FILE`` (an external settings file overrides a service's ``update_internal``).
Leaving the ``with`` block kills the process if it still runs.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import yaml

__all__ = ["ServiceProcess"]


class ServiceProcess:
    """``python script [args]`` (or any command) with its stdout and stderr merged and collected."""

    def __init__(
        self,
        script: str | os.PathLike[str] | Sequence[str],
        *,
        settings: Mapping[str, Any] | None = None,
        env: Mapping[str, str] | None = None,
        cwd: str | os.PathLike[str] | None = None,
    ) -> None:
        if isinstance(script, (str, os.PathLike)):
            self.args = [sys.executable, str(script)]
        else:
            self.args = [str(arg) for arg in script]
        self._settings = settings
        self._env = dict(env or {})
        self._cwd = cwd
        self.lines: list[str] = []
        self._changed = threading.Condition()
        self._reader: threading.Thread | None = None
        self._settings_dir: tempfile.TemporaryDirectory[str] | None = None
        self.process: subprocess.Popen[str] | None = None

    # -- running --------------------------------------------------------------------------------

    def start(self) -> ServiceProcess:
        env = {**os.environ, "PYTHONUNBUFFERED": "1", **self._env}
        if self._settings is not None:
            self._settings_dir = tempfile.TemporaryDirectory(prefix="tamarco-service-")
            path = Path(self._settings_dir.name) / "settings.yml"
            path.write_text(yaml.safe_dump(dict(self._settings), sort_keys=False))
            env["TAMARCO_YML_FILE"] = str(path)
        self.process = subprocess.Popen(
            self.args,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            env=env,
            cwd=self._cwd,
        )
        self._reader = threading.Thread(target=self._read, name=f"service-output-{self.process.pid}", daemon=True)
        self._reader.start()
        return self

    def _read(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        for line in self.process.stdout:
            with self._changed:
                self.lines.append(line)
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    @property
    def pid(self) -> int:
        return self._process().pid

    @property
    def output(self) -> str:
        with self._changed:
            return "".join(self.lines)

    def running(self) -> bool:
        return self._process().poll() is None

    def _process(self) -> subprocess.Popen[str]:
        if self.process is None:
            raise RuntimeError("the service process was not started (call start() or use it in a with block)")
        return self.process

    # -- waiting --------------------------------------------------------------------------------

    def wait_for(self, pattern: str, timeout: float = 30.0, *, count: int = 1) -> re.Match[str]:
        """The ``count``-th output line matching ``pattern`` (a regex); ``AssertionError`` with the
        output so far after ``timeout`` seconds, or as soon as the process exits without it."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                found = [match for line in self.lines if (match := regex.search(line))]
                if len(found) >= count:
                    return found[count - 1]
                exited = self._process().poll() is not None and not (self._reader and self._reader.is_alive())
                remaining = deadline - time.monotonic()
                if exited or remaining <= 0:
                    why = f"exited with code {self._process().returncode}" if exited else f"not within {timeout:g} s"
                    raise AssertionError(
                        f"{pattern!r} printed {len(found)} of {count} time(s), {why}; output:\n{''.join(self.lines)}"
                    )
                self._changed.wait(min(remaining, 0.5))

    def count(self, pattern: str) -> int:
        """How many output lines so far match ``pattern``."""
        regex = re.compile(pattern)
        with self._changed:
            return sum(1 for line in self.lines if regex.search(line))

    # -- stopping -------------------------------------------------------------------------------

    def signal(self, signum: int) -> None:
        process = self._process()
        if process.poll() is None:
            process.send_signal(signum)

    def wait(self, timeout: float = 30.0) -> int:
        """The exit code; ``AssertionError`` with the output if it does not exit in time."""
        process = self._process()
        try:
            code = process.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(
                f"process {process.pid} still running after {timeout:g} s; output:\n{self.output}"
            ) from None
        if self._reader is not None:
            self._reader.join(5)
        return code

    def terminate(self, timeout: float = 30.0) -> int:
        """SIGTERM, then the exit code."""
        self.signal(signal.SIGTERM)
        return self.wait(timeout)

    def interrupt(self, timeout: float = 30.0) -> int:
        """SIGINT (Ctrl-C), then the exit code."""
        self.signal(signal.SIGINT)
        return self.wait(timeout)

    def kill(self) -> int:
        """SIGKILL, then the exit code (-9)."""
        self.signal(signal.SIGKILL)
        return self.wait(10)

    def __enter__(self) -> ServiceProcess:
        return self.start() if self.process is None else self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        if self.process is not None and self.process.poll() is None:
            self.kill()
        if self.process is not None and self.process.stdout is not None:
            self.process.stdout.close()
        if self._settings_dir is not None:
            self._settings_dir.cleanup()
            self._settings_dir = None
