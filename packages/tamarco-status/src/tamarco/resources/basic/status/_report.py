"""What ``GET /status`` answers: every resource's ``status()`` and the overall HTTP code."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from typing import Any

from tamarco.resources.bases import BaseResource, StatusCodes

__all__ = ["collect_resource_statuses", "overall_http_code", "resource_status"]


def overall_http_code(codes: Iterable[StatusCodes | int], while_starting: int = 102) -> int:
    """The 0.1 rule: 200 when every resource is STARTED, 500 when any is FAILED or STOPPED,
    ``while_starting`` (102 Processing by default) otherwise."""
    codes = [StatusCodes(code) for code in codes]
    if all(code == StatusCodes.STARTED for code in codes):
        return 200
    if any(code in (StatusCodes.FAILED, StatusCodes.STOPPED) for code in codes):
        return 500
    return while_starting


def _failed(error: str) -> dict[str, Any]:
    return {"status": int(StatusCodes.FAILED), "status_name": StatusCodes.FAILED.name, "error": error}


async def resource_status(resource: BaseResource, timeout: float) -> dict[str, Any]:
    """``resource.status()`` with the numeric code and its name always present.

    A ``status()`` that raises, hangs past ``timeout`` or returns something else than a dict
    is reported as FAILED with the reason: one broken resource never breaks the endpoint.
    """
    try:
        info = await asyncio.wait_for(resource.status(), timeout)
    except TimeoutError:
        return _failed(f"status() did not answer within {timeout:g} s")
    except Exception as error:
        return _failed(f"status() raised {type(error).__name__}: {error}")
    if not isinstance(info, Mapping):
        return _failed(f"status() returned a {type(info).__name__}, not a dict")
    result = dict(info)
    code = result.get("status", resource.status_code)
    try:
        code = StatusCodes(code)
    except (ValueError, TypeError):
        return {**result, **_failed(f"status() reported an unknown status code {code!r}")}
    if resource.status_code is StatusCodes.FAILED and code is not StatusCodes.FAILED:
        # FAILED as the service knows it (set at runtime, no restart policy) wins over what an
        # overridden status() computes from the resource's own state.
        code = StatusCodes.FAILED
        if resource.last_error is not None:
            result.setdefault("last_error", resource.last_error)
    result["status"] = int(code)
    result["status_name"] = code.name
    return result


async def collect_resource_statuses(resources: Mapping[str, BaseResource], timeout: float) -> dict[str, dict[str, Any]]:
    """``{name: status dict}`` for every resource, asked concurrently."""
    names = list(resources)
    answers = await asyncio.gather(*(resource_status(resources[name], timeout) for name in names))
    return dict(zip(names, answers, strict=True))
