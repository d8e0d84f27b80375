"""Forked children keep working meters; the public API and the namespace layout."""

from __future__ import annotations

import os
import select
import signal
import sys
import threading
from pathlib import Path

import pytest
import tamarco.resources.basic.metrics as metrics
from tamarco.resources.basic.metrics import GLOBAL_SCOPE, Counter


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_can_use_a_meter_whose_lock_a_parent_thread_held(global_name: str) -> None:
    counter = Counter(global_name, "things")
    counter.inc(2)
    held, release = threading.Event(), threading.Event()

    def hold_the_lock() -> None:
        with counter._lock:
            held.set()
            release.wait(10)

    holder = threading.Thread(target=hold_the_lock)
    holder.start()
    held.wait(5)
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: the thread holding the lock does not exist here
        try:
            counter.inc()
            os.write(write_end, f"{counter.value}".encode())
        finally:
            os._exit(0)
    try:
        os.close(write_end)
        ready, _, _ = select.select([read_end], [], [], 10)
        assert ready, "the child deadlocked on the meter's lock"
        assert os.read(read_end, 100) == b"3.0"  # the parent's 2, plus the child's 1
    finally:
        release.set()
        holder.join()
        if os.waitpid(pid, os.WNOHANG) == (0, 0):  # still running (deadlocked): end it
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        os.close(read_end)
    assert counter.value == 2  # the parent's meter is untouched
    assert GLOBAL_SCOPE.families[global_name].meters


def test_public_api_is_exported() -> None:
    for name in metrics.__all__:
        assert getattr(metrics, name) is not None, name
    assert {"MetricsResource", "Counter", "Gauge", "Summary", "Timer"} <= set(metrics.__all__)
    assert sorted(metrics.__all__) == sorted(set(metrics.__all__))


def test_no_init_at_the_shared_namespace_levels() -> None:
    package = Path(metrics.__file__).parent  # .../src/tamarco/resources/basic/metrics
    src = package.parents[2]
    for shared in (src, src / "resources", src / "resources" / "basic"):
        assert shared.name in ("tamarco", "resources", "basic")
        assert not (shared / "__init__.py").exists(), shared
    assert sys.modules["tamarco"].__file__ is None  # a PEP 420 namespace package
