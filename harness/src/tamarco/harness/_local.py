"""The local backend's runner: the service's child processes, started in order."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from ._errors import ServiceStartError
from ._probes import tcp_open
from ._process import ManagedProcess, ProcessSpec

_STEP_TIMEOUT = 10.0


class LocalRunner:
    """Starts the children of one service, stops them in reverse order."""

    def __init__(self, kind: str, workdir: Path, plan: Callable[[], list[ProcessSpec]]) -> None:
        self.kind = kind
        self.workdir = workdir
        self._plan = plan
        self._processes: list[ManagedProcess] = []
        self._last_exit = ""

    def launch(self) -> None:
        self._processes = []
        for spec in self._plan():
            process = ManagedProcess(spec, self.workdir / f"{spec.name}.log")
            process.start()
            self._processes.append(process)
            if spec.ready_port is not None:
                self._await_port(process, spec.ready_port)

    def _await_port(self, process: ManagedProcess, port: int) -> None:
        deadline = time.monotonic() + _STEP_TIMEOUT
        while not tcp_open("127.0.0.1", port):
            if not process.alive() or time.monotonic() >= deadline:
                reason = (
                    f"{process.spec.name} exited during start (exit code {process.returncode()})"
                    if not process.alive()
                    else f"{process.spec.name} did not open port {port} in {_STEP_TIMEOUT:g} s"
                )
                tail = process.log_tail()
                self.kill()
                raise ServiceStartError(self.kind, reason, tail)
            time.sleep(0.02)

    def alive(self) -> bool:
        return bool(self._processes) and all(p.alive() for p in self._processes)

    def describe_exit(self) -> str:
        dead = [p for p in self._processes if not p.alive()]
        if not dead:
            return self._last_exit or "not running"
        return ", ".join(f"{p.spec.name} exit code {p.returncode()}" for p in dead)

    def terminate(self) -> None:
        for process in reversed(self._processes):
            process.terminate()
        self._processes = []

    def kill(self) -> None:
        for process in reversed(self._processes):
            process.kill()
        self._processes = []

    def remove(self) -> None:
        self.kill()

    def log_tail(self, lines: int = 40) -> str:
        tails = []
        for log in sorted(self.workdir.glob("*.log")):
            process = ManagedProcess(ProcessSpec(log.stem, []), log)
            tail = process.log_tail(lines)
            if tail:
                tails.append(f"[{log.name}]\n{tail}")
        return "\n".join(tails)
