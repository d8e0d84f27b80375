"""SIGTERM with work in flight, stops that hang (on the event loop and off it), a second signal.

The service runs in a subprocess (``services/fault_service.py``) with its settings from a file.
"""

from __future__ import annotations

import re
import threading
import time
import urllib.error
import urllib.request

import pytest

pytestmark = pytest.mark.functional

FORCED = 3  # tamarco.core.microservice.EXIT_FORCED
IN_FLIGHT = 5
REQUEST_SECONDS = 2.0


def settings(shutdown_timeout: float = 10) -> dict:
    return {
        "system": {
            "shutdown_timeout_seconds": shutdown_timeout,
            "resources": {"http_server": {"port": 0}, "tamarco_http_report_server": {"port": 0}},
        }
    }


class ReadinessPoller(threading.Thread):
    """GET /health/ready every 10 ms until the report server stops answering; records
    ``(monotonic time, status)`` where status is the HTTP code or ``None`` (refused/reset)."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.samples: list[tuple[float, int | None]] = []
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            try:
                with urllib.request.urlopen(self.url, timeout=2) as response:
                    status: int | None = response.status
            except urllib.error.HTTPError as error:
                status = error.code
            except OSError:
                status = None
            self.samples.append((time.monotonic(), status))
            if status is None and any(s == 503 for _, s in self.samples):
                return  # answered 503, now gone: the report server closed
            time.sleep(0.01)

    def first(self, status: int | None) -> float | None:
        return next((at for at, s in self.samples if s == status), None)

    def last(self, status: int | None) -> float | None:
        return next((at for at, s in reversed(self.samples) if s == status), None)


def test_sigterm_answers_requests_in_flight_and_readiness_goes_503_first(fault_service, faults):
    service = fault_service(settings=settings())
    app = faults.logged_url(service, "HTTP server http_server")
    report = faults.logged_url(service, "report server")
    assert faults.http_get(f"{report}/health/ready")[0] == 200

    answers: list[tuple[float, int, bytes]] = []

    def call() -> None:
        code, body = faults.http_get(f"{app}/slow?seconds={REQUEST_SECONDS}", timeout=30)
        answers.append((time.monotonic(), code, body))

    clients = [threading.Thread(target=call, daemon=True) for _ in range(IN_FLIGHT)]
    for client in clients:
        client.start()
    service.wait_for(r"^SLOW START", 10, count=IN_FLIGHT)
    poller = ReadinessPoller(f"{report}/health/ready")
    poller.start()
    faults.poll(lambda: poller.samples, 5, "a first readiness answer")
    signalled = time.monotonic()
    code = service.terminate(30)
    poller.done.set()
    for client in clients:
        client.join(10)
    poller.join(5)

    first_503 = poller.first(503)
    last_answer = max(at for at, _, _ in answers) if answers else None
    faults.report_counts(
        "SIGTERM with requests in flight",
        sent=IN_FLIGHT,
        answered=sum(1 for _, c, b in answers if c == 200 and b == b"done"),
        ready_503_after_ms=None if first_503 is None else round((first_503 - signalled) * 1000),
        last_answer_after_ms=None if last_answer is None else round((last_answer - signalled) * 1000),
        last_503_after_ms=None if poller.last(503) is None else round((poller.last(503) - signalled) * 1000),
        exit_code=code,
    )
    assert code == 0, service.output
    assert sorted((c, b) for _, c, b in answers) == [(200, b"done")] * IN_FLIGHT
    # Readiness went 503 as the stop began, while the requests were still being answered, and
    # never 200 again ...
    assert first_503 is not None, poller.samples
    assert first_503 < last_answer
    assert first_503 - signalled < 1.0
    assert not [s for at, s in poller.samples if at > first_503 and s == 200]
    # ... and the report server closed last, once the HTTP server had drained.
    lines = service.output.splitlines()
    http_stopped = next(i for i, line in enumerate(lines) if "HTTP server http_server stopped" in line)
    report_closed = next(i for i, line in enumerate(lines) if re.search(r"report server on \S+ closed", line))
    assert http_stopped < report_closed


def _hanging(fault_service, how: str, shutdown_timeout: float):
    service = fault_service(settings=settings(shutdown_timeout), env={"FAULT_HANG": how})
    service.wait_for(r"lifecycle: running", 30)
    return service


@pytest.mark.parametrize("how", ["off_loop", "on_loop"])
def test_a_hanging_stop_is_forced_within_the_timeout(fault_service, faults, how):
    timeout = 2.0
    service = _hanging(fault_service, how, timeout)
    started = time.monotonic()
    service.signal(15)
    service.wait_for(rf"^HANG {how}", 10)
    code = service.wait(timeout + 10)
    took = time.monotonic() - started
    faults.report_counts(f"stop hanging {how}", shutdown_timeout_s=timeout, exit_after_s=f"{took:.2f}", exit_code=code)
    assert code == FORCED, service.output
    assert took < timeout + 1.0
    assert "stuck in stop of resource hang" in service.output  # the forced exit names what hung


def test_a_second_signal_forces_the_exit_at_once(fault_service, faults):
    service = _hanging(fault_service, "off_loop", shutdown_timeout=30)
    service.signal(15)
    service.wait_for(r"^HANG off_loop", 10)
    second = time.monotonic()
    service.signal(15)
    code = service.wait(10)
    took = time.monotonic() - second
    faults.report_counts("second SIGTERM during a hanging stop", exit_after_s=f"{took:.2f}", exit_code=code)
    assert code == FORCED, service.output
    assert took < 1.0
