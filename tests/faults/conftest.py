"""Helpers of the fault suite: settings into etcd, addresses from a service's log, counts.

Tests get them through the ``faults`` fixture (``faults.put_tree(...)``): with pytest's
importlib import mode a test module cannot import its conftest.
"""

from __future__ import annotations

import json
import re
import sys
import time
import types
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
from tamarco.harness import HarnessError, ServiceProcess

SERVICES = Path(__file__).parent / "services"


def put_tree(store: Any, prefix: str, tree: Mapping[str, Any], path: str = "") -> None:
    """Write a settings tree to etcd the way Tamarco maps it: ``/``-joined keys, JSON values."""
    for key, value in tree.items():
        full = f"{path}/{key}" if path else key
        if isinstance(value, Mapping):
            put_tree(store, prefix, value, full)
        else:
            store.put(prefix + full, json.dumps(value))


def put_retrying(store: Any, key: str, value: str, timeout: float = 20.0) -> float:
    """``store.put`` until etcd takes it (during an election or an outage); seconds it took."""
    started = time.monotonic()
    while True:
        try:
            store.put(key, value)
            return time.monotonic() - started
        except (OSError, urllib.error.URLError, HarnessError):
            if time.monotonic() - started > timeout:
                raise
            time.sleep(0.05)


def logged_url(service: ServiceProcess, what: str, timeout: float = 30.0) -> str:
    """The URL a service logged for ``what`` (``HTTP server http_server`` or ``report server``)."""
    match = service.wait_for(rf"{re.escape(what)} listening on (http://\S+)", timeout)
    return match.group(1)


def http_get(url: str, timeout: float = 5.0) -> tuple[int, bytes]:
    """Status code and body of a GET (an HTTP error status is returned, not raised)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def seen_counts(service: ServiceProcess, pattern: str = r"^SEEN (\S+)") -> Counter[str]:
    """How many times the service printed each ``SEEN key=value``."""
    regex = re.compile(pattern)
    return Counter(match.group(1) for line in service.output.splitlines() if (match := regex.search(line)))


#: Every scenario's counts, printed again in pytest's terminal summary.
REPORTED: list[str] = []


def report_counts(title: str, **counts: object) -> None:
    """Print one scenario's counts (with ``-s``, in a failing test's report, and in the session's
    terminal summary under "fault suite")."""
    line = f"[fault] {title}: " + ", ".join(f"{name}={value}" for name, value in counts.items())
    REPORTED.append(line)
    print("\n" + line, flush=True)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if REPORTED:
        terminalreporter.section("fault suite")
        for line in REPORTED:
            terminalreporter.write_line(line)


def poll(condition: Callable[[], Any], timeout: float, what: str, interval: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout:g} s: {what}")
        time.sleep(interval)


@pytest.fixture
def fault_service() -> Callable[..., ServiceProcess]:
    """``fault_service(env=..., settings=..., script="fault_service.py")``: a script of
    ``services/`` in a subprocess, stopped after the test."""
    started: list[ServiceProcess] = []

    def make(script: str = "fault_service.py", **kwargs: Any) -> ServiceProcess:
        process = ServiceProcess([sys.executable, str(SERVICES / script)], **kwargs)
        started.append(process)
        return process.start()

    yield make
    for process in started:
        process.__exit__(None, None, None)


@pytest.fixture
def faults() -> types.SimpleNamespace:
    """The helpers above."""
    return types.SimpleNamespace(
        put_tree=put_tree,
        put_retrying=put_retrying,
        logged_url=logged_url,
        http_get=http_get,
        seen_counts=seen_counts,
        report_counts=report_counts,
        poll=poll,
    )
