"""Polling with a deadline: the harness's only way to wait for something to become true."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class WaitTimeout(TimeoutError):
    """The condition did not hold before the deadline; the message says what was awaited."""


def wait_until(
    condition: Callable[[], T | None],
    timeout: float,
    *,
    interval: float = 0.05,
    description: str = "condition",
) -> T:
    """Call ``condition`` until it returns a truthy value and return that value.

    ``condition`` returns ``None`` (or another falsy value) while the wait goes on.

    Raises :class:`WaitTimeout` naming ``description`` when ``timeout`` seconds pass.
    """
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() >= deadline:
            raise WaitTimeout(f"timed out after {timeout:g} s waiting for {description}")
        time.sleep(interval)
