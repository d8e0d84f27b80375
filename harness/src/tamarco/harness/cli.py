"""``tamarco-harness up [SERVICE...]`` / ``down`` / ``status``: services for a developer.

``up`` starts the services (all of them when none is named) in parallel, prints one
``export TAMARCO_...=...`` line per variable on stdout (``eval "$(tamarco-harness up
redis &)"`` style use is possible but the simplest is a second terminal), records its PID
and the variables in a state file, and keeps running in the foreground until Ctrl-C,
SIGTERM or ``tamarco-harness down``. The ``up`` process owns the services and alone stops
them, so a ``down`` from another shell only signals it and waits for it to exit; nothing
is left behind when ``up`` is interrupted either.

The state file is ``$TAMARCO_HARNESS_STATE`` or ``~/.cache/tamarco-harness/up.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import signal
import sys
import threading
import time
from pathlib import Path
from types import FrameType

from ._errors import HarnessError
from ._harness import SERVICE_NAMES, Harness
from ._process import process_state

STATE_VARIABLE = "TAMARCO_HARNESS_STATE"


def state_path() -> Path:
    override = os.environ.get(STATE_VARIABLE)
    if override:
        return Path(override)
    return Path.home() / ".cache" / "tamarco-harness" / "up.json"


def _read_state() -> dict[str, object] | None:
    try:
        state: dict[str, object] = json.loads(state_path().read_text())
    except (OSError, ValueError):
        return None
    return state


def _pid_alive(pid: int) -> bool:
    return process_state(pid) not in (None, "Z")


def up(names: list[str], backend: str | None) -> int:
    state = _read_state()
    if state is not None and _pid_alive(int(str(state["pid"]))):
        print(
            f"tamarco-harness: already up (pid {state['pid']}); run `tamarco-harness down` first",
            file=sys.stderr,
        )
        return 1
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    # The durable Kafka only when named: both brokers' env() set the same TAMARCO_KAFKA_* variables.
    names = names or [name for name in SERVICE_NAMES if name != "kafka_durable"]
    with Harness(backend) as harness:
        started = time.monotonic()
        try:
            harness.start_all(names)
        except HarnessError as exc:
            print(f"tamarco-harness: {exc}", file=sys.stderr)
            return 1
        env = harness.env()
        path = state_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"pid": os.getpid(), "services": names, "env": env}))
        for key, value in sorted(env.items()):
            print(f"export {key}={shlex.quote(value)}")
        print(
            f"# {', '.join(names)} up in {time.monotonic() - started:.1f} s "
            f"({harness.backend} backend); Ctrl-C or `tamarco-harness down` to stop",
            flush=True,
        )
        try:
            while not stop.wait(0.5):
                dead = [s.kind for s in harness.services() if not s.running]
                if dead:
                    print(f"# tamarco-harness: {', '.join(dead)} stopped running", file=sys.stderr)
        finally:
            path.unlink(missing_ok=True)
    return 0


def down(timeout: float = 60.0) -> int:
    state = _read_state()
    if state is None:
        print("tamarco-harness: nothing is up", file=sys.stderr)
        return 0
    pid = int(str(state["pid"]))
    if _pid_alive(pid):
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while _pid_alive(pid):
            if time.monotonic() > deadline:
                print(f"tamarco-harness: pid {pid} did not stop in {timeout:g} s", file=sys.stderr)
                return 1
            time.sleep(0.1)
    state_path().unlink(missing_ok=True)
    return 0


def status() -> int:
    state = _read_state()
    if state is None or not _pid_alive(int(str(state["pid"]))):
        print("tamarco-harness: nothing is up")
        return 1
    env = state.get("env")
    if not isinstance(env, dict):
        print(f"tamarco-harness: malformed state file {state_path()}", file=sys.stderr)
        return 1
    for key, value in sorted(env.items()):
        print(f"export {key}={shlex.quote(str(value))}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tamarco-harness", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    up_parser = commands.add_parser("up", help="start services and print their TAMARCO_* variables")
    up_parser.add_argument(
        "services",
        nargs="*",
        metavar="SERVICE",
        help=f"any of {', '.join(SERVICE_NAMES)} (default: all but kafka_durable)",
    )
    up_parser.add_argument("--backend", choices=("auto", "local", "docker"), default=None)
    commands.add_parser("down", help="stop the services started by `up`")
    commands.add_parser("status", help="print the variables of the running `up`")
    args = parser.parse_args(argv)
    if args.command == "up":
        unknown = sorted(set(args.services) - set(SERVICE_NAMES))
        if unknown:
            parser.error(f"unknown service(s) {', '.join(unknown)}; choose from {', '.join(SERVICE_NAMES)}")
        return up(args.services, args.backend)
    if args.command == "down":
        return down()
    return status()


if __name__ == "__main__":
    sys.exit(main())
