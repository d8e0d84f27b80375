"""Child processes of the local backend.

Every child runs in its own session (``start_new_session=True``) so that a Ctrl-C in the
test terminal does not reach it before the harness stops it in order, and so that its
whole process group (e.g. RabbitMQ's wrapper script and its Erlang VM) can be signalled.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class ProcessSpec:
    """How to run one child: its argv, extra environment and working directory.

    ``ready_port``: when set, the next child of the same service starts only once this
    loopback port accepts connections (e.g. epmd before RabbitMQ).
    """

    name: str
    argv: Sequence[str]
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: Path | None = None
    ready_port: int | None = None
    inherit_env: bool = True


def process_state(pid: int) -> str | None:
    """The one-letter state from ``/proc/PID/stat`` (``'Z'`` for a zombie), or ``None``."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name is in parentheses and may contain spaces: split after the last ')'.
    return stat.rpartition(")")[2].split()[0]


def group_members(pgid: int) -> list[int]:
    """PIDs of the live (non-zombie) processes in process group ``pgid``."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        # After the command name: state, ppid, pgrp.
        if len(fields) > 2 and fields[2] == str(pgid) and fields[0] != "Z":
            members.append(int(entry.name))
    return members


class ManagedProcess:
    """One running child with its log file; stopped by PID, never by name."""

    def __init__(self, spec: ProcessSpec, log_path: Path) -> None:
        self.spec = spec
        self.log_path = log_path
        self._popen: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self._popen.pid if self._popen else None

    def start(self) -> None:
        env = dict(os.environ) if self.spec.inherit_env else {"PATH": os.environ.get("PATH", "")}
        env.update(self.spec.env)
        with self.log_path.open("ab") as log:
            self._popen = subprocess.Popen(
                list(self.spec.argv),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=self.spec.cwd,
                start_new_session=True,
            )

    def alive(self) -> bool:
        """Running and not a zombie (a stopped child can linger as a zombie for seconds)."""
        if self._popen is None or self._popen.poll() is not None:
            return False
        return process_state(self._popen.pid) not in (None, "Z")

    def returncode(self) -> int | None:
        return self._popen.poll() if self._popen else None

    def terminate(self, timeout: float = 15.0) -> None:
        """SIGTERM the child, wait up to ``timeout`` s, then SIGKILL its whole group."""
        popen = self._popen
        if popen is None:
            return
        if popen.poll() is None:
            try:
                popen.send_signal(signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                popen.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        self._kill_group(popen)
        self._popen = None

    def kill(self) -> None:
        """SIGKILL the child's whole process group and reap it."""
        popen = self._popen
        if popen is None:
            return
        self._kill_group(popen)
        self._popen = None

    @staticmethod
    def _kill_group(popen: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
        # The group outlives its leader while members (e.g. an Erlang VM) are left, and
        # they hold the service's ports until they are gone: wait for them too.
        try:
            os.killpg(popen.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        popen.wait()
        deadline = time.monotonic() + timeout
        while group_members(popen.pid) and time.monotonic() < deadline:
            time.sleep(0.02)

    def log_tail(self, lines: int = 40) -> str:
        try:
            with self.log_path.open("rb") as log:
                tail = deque(log, maxlen=lines)
        except OSError:
            return ""
        return b"".join(tail).decode(errors="replace").rstrip()
