"""The settings the core reads itself, and how changes reach the resources while running.

``system.shutdown_timeout_seconds`` (the grace period of the stop) and ``system.deploy_name``
are checked when the service starts, before any resource starts (:class:`InvalidSettingError`
naming the key). Every resource's subtree (``system.resources.<name>``) is watched: a change
under one of its ``live_settings`` is applied with ``apply_settings``. A change under a key the
resource does not know (not in its declared ``settings_keys``: a typo) is an error naming the
key and the known ones: it is ignored, and the next start would refuse it. Any other change is
logged as needing a restart, naming the resource.

Once every resource is bound, each one's ``check_settings`` runs (:func:`check_resources_settings`):
the wrong settings of all of them fail the start together, before any resource connects.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

from tamarco.core.errors import ExpectedStartFailure, InvalidSettingError, ResourceSettingsError
from tamarco.core.lifecycle import LifecycleStage
from tamarco.core.settings.keys import MISSING
from tamarco.core.settings.settings import ROOT_SETTINGS, SettingsView
from tamarco.resources.bases import BaseResource, StatusCodes

__all__ = [
    "DEFAULT_SHUTDOWN_TIMEOUT",
    "DEPLOY_NAME_KEY",
    "SHUTDOWN_TIMEOUT_KEY",
    "check_deploy_name",
    "check_resources_settings",
    "check_shutdown_timeout",
    "resource_settings_watcher",
]

DEFAULT_SHUTDOWN_TIMEOUT = 30.0
SHUTDOWN_TIMEOUT_KEY = f"{ROOT_SETTINGS}.shutdown_timeout_seconds"
DEPLOY_NAME_KEY = f"{ROOT_SETTINGS}.deploy_name"


def check_shutdown_timeout(value: Any) -> float:
    """``value`` as a grace period in seconds; :class:`InvalidSettingError` unless a number > 0."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0 or value != value:
        raise InvalidSettingError(SHUTDOWN_TIMEOUT_KEY, "a number of seconds greater than 0", value)
    return float(value)


def check_deploy_name(value: Any) -> str | None:
    """``value`` as the deploy name (None when unset); :class:`InvalidSettingError` unless a string."""
    if value is not None and not isinstance(value, str):
        raise InvalidSettingError(DEPLOY_NAME_KEY, "a string", value)
    return value


def resource_settings_watcher(
    resource: BaseResource, view: SettingsView, logger: logging.Logger
) -> Callable[[str, Any], Awaitable[None]]:
    """The watch callback of ``resource``'s settings: live settings applied, a key it does not
    know (not in its ``settings_keys``) reported as ignored, any other as needing a restart."""

    async def on_change(key: str, value: Any) -> None:
        relative = key[len(view.prefix) + 1 :]
        top = relative.split(".", 1)[0]
        known = resource.settings_keys
        if top in resource.live_settings:
            try:
                await resource.apply_settings({relative: value})
                logger.info("resource %s applied setting %s live", resource.name, key)
            except Exception:
                logger.exception("resource %s failed to apply setting %s", resource.name, key)
        elif known is None or not top or top in known:  # not top: the subtree itself
            logger.warning("setting %s changed; resource %s needs a restart to apply it", key, resource.name)
        elif view.get_nowait(top, MISSING) is MISSING:  # the unknown key was removed: fixed
            logger.info("setting %s removed (%s is not a setting of resource %s)", key, top, resource.name)
        else:  # an error: the next start fails on it, so someone must remove it
            logger.error(
                "setting %s changed, but %s is not a setting of resource %s (known: %s): "
                "it is ignored, and the next start will refuse it",
                key,
                top,
                resource.name,
                ", ".join(sorted(known)),
            )

    on_change.__qualname__ = f"settings of resource {resource.name}"
    return on_change


async def check_resources_settings(
    resources: Mapping[str, BaseResource],
    order: Iterable[str],
    enter: Callable[[LifecycleStage, str], None],
    logger: logging.Logger,
    redact: Callable[[str], str] | None = None,
) -> None:
    """The ``settings check`` step: every resource's ``check_settings``, in ``order``; what they
    raise fails the start as one :class:`ResourceSettingsError` naming every resource and key,
    before any resource's ``pre_start`` (so nothing has connected)."""
    failures: dict[str, BaseException] = {}
    for name in order:
        enter(LifecycleStage.SETTINGS_CHECK, name)
        try:
            await resources[name].check_settings()
        except Exception as error:
            expected = isinstance(error, ExpectedStartFailure)  # else a bug: its traceback is logged
            logger.log(
                logging.DEBUG if expected else logging.ERROR, "resource %s: settings check", name, exc_info=error
            )
            resources[name].set_status(StatusCodes.FAILED, error)
            failures[name] = error
    if failures:
        raise ResourceSettingsError(failures, redact)
