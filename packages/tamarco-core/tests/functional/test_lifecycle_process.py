"""A real service in a subprocess: signals, exit codes, lifecycle order, forced exit."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

SERVICE = Path(__file__).parent / "services" / "lifecycle_service.py"


def start_service(**env):
    return subprocess.Popen(
        [sys.executable, str(SERVICE)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **env},
    )


def read_until(process, marker, timeout=20):
    """Lines printed until one contains ``marker`` (fails if the process ends first)."""
    lines = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            pytest.fail(f"service ended before {marker!r}:\n{''.join(lines)}")
        lines.append(line)
        if marker in line:
            return lines
    pytest.fail(f"{marker!r} not seen in {timeout}s:\n{''.join(lines)}")


def lifecycle_lines(output):
    wanted = ("lifecycle:", "resource ")
    return [line.split(": ", 1)[1].strip() for line in output if any(w in line for w in wanted)]


@pytest.mark.parametrize(
    ("signum", "event_loop", "loop_module"),
    [(signal.SIGTERM, "auto", "uvloop"), (signal.SIGINT, "auto", "uvloop"), (signal.SIGTERM, "asyncio", "asyncio")],
)
def test_signal_stops_gracefully_in_order(signum, event_loop, loop_module):
    process = start_service(EVENT_LOOP=event_loop)
    try:
        lines = read_until(process, "READY on")
        assert f"READY on {loop_module}" in lines[-1]
        process.send_signal(signum)
        rest, _ = process.communicate(timeout=20)
    finally:
        process.kill()
    assert process.returncode == 0, rest
    events = lifecycle_lines(lines + rest.splitlines(keepends=True))
    assert events == [
        "lifecycle: pre_start",
        "resource first pre_start",
        "resource second pre_start",
        "lifecycle: start",
        "resource first start",
        "resource second start",
        "lifecycle: post_start",
        "resource first post_start",
        "resource second post_start",
        "lifecycle: running",
        "lifecycle: stop",
        "resource second stop",
        "resource first stop",
        "lifecycle: post_stop",
        "resource second post_stop",
        "resource first post_stop",
        "lifecycle: stopped (exit code 0)",
    ]
    assert f"received {signal.Signals(signum).name}" in rest


def test_hanging_resource_forces_exit_after_grace():
    process = start_service(HANG_ON_STOP="1", GRACE="1")
    try:
        read_until(process, "READY on")
        sent = time.monotonic()
        process.send_signal(signal.SIGTERM)
        rest, _ = process.communicate(timeout=20)
        elapsed = time.monotonic() - sent
    finally:
        process.kill()
    assert process.returncode == 3, rest
    assert "forcing exit with code 3" in rest
    assert "stop of resource second" in rest  # names what hung
    assert 0.9 <= elapsed < 10


def test_start_failure_exits_non_zero_and_stops_started_resources():
    process = start_service(FAIL_ON_START="1")
    try:
        output, _ = process.communicate(timeout=20)
    finally:
        process.kill()
    assert process.returncode == 1, output
    assert "resource 'second' failed in start: ConnectionError: cannot reach 127.0.0.1:1" in output
    assert "resource first stop" in output
    assert "READY" not in output


def stop_and_time(process, *, marker="READY on"):
    read_until(process, marker)
    sent = time.monotonic()
    process.send_signal(signal.SIGTERM)
    rest, _ = process.communicate(timeout=30)
    return rest, time.monotonic() - sent


@pytest.mark.functional
@pytest.mark.parametrize("event_loop", ["auto", "asyncio"])
def test_a_stop_blocking_the_event_loop_is_forced_within_the_grace_period(event_loop):
    """time.sleep(60) in a stop: the loop cannot time the grace period; the watchdog does."""
    process = start_service(BLOCK_ON_STOP="1", GRACE="1", EVENT_LOOP=event_loop)
    try:
        rest, elapsed = stop_and_time(process)
    finally:
        process.kill()
    assert process.returncode == 3, rest
    assert elapsed < 1 + 1, f"forced exit after {elapsed:.2f} s"
    assert "forcing exit with code 3" in rest
    assert "stuck in stop of resource second" in rest and "the event loop is blocked" in rest


@pytest.mark.functional
@pytest.mark.parametrize(
    ("hang", "event_loop"),
    [("BLOCK_ON_STOP", "auto"), ("BLOCK_ON_STOP", "asyncio"), ("HANG_ON_STOP", "auto"), ("HANG_ON_STOP", "asyncio")],
)
def test_a_second_signal_ends_a_hung_stop_even_with_the_loop_blocked(hang, event_loop):
    process = start_service(**{hang: "1"}, GRACE="30", EVENT_LOOP=event_loop)
    try:
        read_until(process, "READY on")
        process.send_signal(signal.SIGTERM)
        read_until(process, "resource second stop")
        sent = time.monotonic()
        process.send_signal(signal.SIGTERM)
        rest, _ = process.communicate(timeout=10)
        elapsed = time.monotonic() - sent
    finally:
        process.kill()
    assert process.returncode == 3, rest
    assert elapsed < 2, f"second signal took {elapsed:.2f} s"
    assert "second SIGTERM during shutdown (stuck in stop of resource second)" in rest


@pytest.mark.functional
@pytest.mark.parametrize("value", ['"soon"', '"30"', "0", "-1", "true"])
def test_an_invalid_shutdown_timeout_fails_the_start_before_any_resource(value):
    process = start_service(GRACE_RAW=value)
    try:
        output, _ = process.communicate(timeout=20)
    finally:
        process.kill()
    assert process.returncode == 1, output
    assert "setting system.shutdown_timeout_seconds must be a number of seconds greater than 0" in output
    assert f"got {value.replace(chr(34), chr(39))}" in output or f"got {value.title()}" in output
    assert "resource first pre_start" not in output and "READY" not in output
    assert "Traceback" not in output.split("failed to start")[0]


@pytest.mark.functional
def test_a_0_1_style_thread_polling_its_stop_attribute_stops():
    process = start_service(OLD_THREAD="1", GRACE="10")
    try:
        rest, elapsed = stop_and_time(process)
    finally:
        process.kill()
    assert process.returncode == 0, rest
    assert "old thread stopped" in rest
    assert elapsed < 5


@pytest.mark.functional
def test_a_thread_that_never_stops_does_not_keep_the_resources_from_stopping():
    process = start_service(STUCK_THREAD="1", GRACE="2")
    try:
        rest, elapsed = stop_and_time(process)
    finally:
        process.kill()
    assert process.returncode == 3, rest
    events = lifecycle_lines(rest.splitlines(keepends=True))
    assert events.index("resource second stop") < events.index("resource first post_stop")
    assert "thread stuck did not stop within the grace period of 2 s (resources stopped)" in rest
    assert "lifecycle: stopped (exit code 3)" in rest
    assert elapsed < 2 + 1


@pytest.mark.functional
@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_a_log_file_on_a_full_disk_keeps_a_clean_stop():
    process = start_service(LOG_FILE="/dev/full")
    try:
        lines = read_until(process, "READY on")
        process.send_signal(signal.SIGTERM)
        rest, _ = process.communicate(timeout=30)
        rest = "".join(lines) + rest
    finally:
        process.kill()
    assert process.returncode == 0, rest
    assert "Traceback" not in rest and "--- Logging error ---" not in rest
    assert rest.count("cannot write to /dev/full (No space left on device)") == 1
    assert "lifecycle: stopped (exit code 0)" in rest


@pytest.mark.functional
@pytest.mark.parametrize("event_loop", ["auto", "asyncio"])
def test_one_signal_during_a_shutdown_the_service_began_is_not_a_second_signal(event_loop):
    """The first signal a shutdown sees is reported, not forced (the loop's handler and the
    Python-level one must not both count it)."""
    process = start_service(SELF_STOP="1", SLOW_STOP="1.5", GRACE="10", EVENT_LOOP=event_loop)
    try:
        lines = read_until(process, "resource second stop")
        process.send_signal(signal.SIGTERM)
        rest, _ = process.communicate(timeout=20)
    finally:
        process.kill()
    output = "".join(lines) + rest
    assert process.returncode == 0, output
    assert "received SIGTERM, already stopping" in output
    assert "forcing exit" not in output
