"""Retrying an etcd operation until etcd answers, within a deadline.

A hand-written loop rather than a retry library (tenacity's ``AsyncRetrying`` was considered):
each attempt here is bounded by what is left of the deadline, the last sleep is cut to the
deadline, the final error names the address, the variable and the last failure, and a hook
resets the connection between attempts. Expressed with tenacity that is a stop, a wait, a
retry predicate, a before-sleep hook and an error callback around the same per-attempt
``within``: no shorter, and one more dependency for every service.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import aetcd.exceptions
from tamarco.core.etcd._client import RETRYABLE_ERRORS
from tamarco.core.etcd._config import EtcdConnectionConfig
from tamarco.core.etcd._deadlines import Backoff, request_bound, within
from tamarco.core.etcd._errors import EtcdError, EtcdUnavailableError, describe_error

__all__ = ["retry_until"]

logger = logging.getLogger("tamarco.settings")

T = TypeVar("T")


class _Default:
    pass


_DEFAULT = _Default()


async def retry_until(
    operation: Callable[[], Awaitable[T]],
    *,
    config: EtcdConnectionConfig,
    timeout: float,
    what: str,
    on_retry: Callable[[], Awaitable[Any]] | None = None,
    attempt_timeout: float | _Default | None = _DEFAULT,
) -> T:
    """Run ``operation`` until it succeeds, with exponential backoff (0.1 s up to 2 s).

    Retries only ``RETRYABLE_ERRORS``; logs the first failure once; after ``timeout``
    raises :class:`EtcdUnavailableError` naming the address and ``what`` was attempted.
    Each attempt is bounded by ``attempt_timeout`` (default :func:`request_bound`; ``None``:
    the operation bounds itself), and never outlives ``timeout`` but for the first attempt,
    so the whole retry ends within ``timeout`` (or one attempt, if that is longer).
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    bound = request_bound(config) if isinstance(attempt_timeout, _Default) else attempt_timeout
    backoff = Backoff()
    warned = False
    first = True
    while True:
        try:
            if bound is None:
                return await operation()
            this_bound = bound if first else max(0.1, min(bound, deadline - loop.time()))
            try:
                return await within(operation(), this_bound)
            except TimeoutError:
                raise aetcd.exceptions.ConnectionTimeoutError(f"no answer within {this_bound:.3g} s") from None
        except EtcdError:
            raise
        except RETRYABLE_ERRORS as error:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise EtcdUnavailableError(
                    f"etcd at {config.address} is unreachable: gave up {what} after {timeout:g} s "
                    f"(TAMARCO_ETCD_STARTUP_TIMEOUT); last error: {describe_error(error)}"
                ) from None
            if not warned:
                logger.warning(
                    "etcd at %s is not reachable yet (%s); retrying %s for up to %g s",
                    config.address,
                    describe_error(error),
                    what,
                    timeout,
                )
                warned = True
            if on_retry is not None:
                await on_retry()
            await backoff.sleep(deadline - loop.time())
            first = False
