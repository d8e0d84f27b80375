"""Sanic's "touchup" for several apps started by hand in one process.

At an app's first startup, Sanic's touchup recompiles a few of its hot methods (request
handling, the HTTP/1 protocol) without the signal dispatches nobody listens to. It is most of
Sanic's speed: without it every request pays a dozen signal lookups (measured: about 3x fewer
requests per second). But it rewrites the *classes*, process-wide, from their source code, so a
second app's touchup fails (the rewritten methods have no source), hence the usual advice of
``TOUCHUP = False`` for embedded apps.

What this module does instead, for the apps of :class:`HTTPServerResource`:

- it keeps Sanic's pristine methods (saved when this module is imported, before any touchup)
  and puts them back before each app's first startup, so touchup rebuilds them from source;
- the rebuilt methods must keep every ``http.*`` dispatch that *any* of these apps listens to: each
  app gets a no-op handler for the ``http.*`` signals the others registered;
- once started, an app ignores dispatches of built-in signals it has no handler for (instead of
  Sanic's NotFound), since the shared methods may dispatch signals only another app listens to.

If Sanic was already touched up before this module was imported (a bare ``app.run`` in the same
process), the pristine methods are unknown and apps fall back to ``TOUCHUP = False``.
"""

from __future__ import annotations

import logging
from typing import Any

from sanic import Sanic
from sanic.touchup import TouchUp

__all__ = ["after_startup", "prepare_first_startup"]

logger = logging.getLogger("tamarco.http")

_pristine: dict[tuple[type, str], Any] = {}
_pristine_known = not any(getattr(target, "__touched__", False) for target, _ in TouchUp._registry)
if _pristine_known:
    _pristine = {(target, name): target.__dict__[name] for target, name in TouchUp._registry if name in target.__dict__}
    _pristine_known = len(_pristine) == len(TouchUp._registry)

#: The apps prepared so far (Sanic apps cannot be weakly referenced; Sanic's own app registry
#: keeps them alive anyway).
_apps: list[Sanic] = []


async def _noop(**_: Any) -> None:
    """Handler that keeps a signal's dispatch in the touched-up methods."""


def _http_signals(app: Sanic) -> set[str]:
    return {route.name for route in app.signal_router.routes if route.name.startswith("http.")}


def prepare_first_startup(app: Sanic) -> None:
    """Make ``app``'s first ``startup()`` touch Sanic up correctly for every live app."""
    if app not in _apps:
        _apps.append(app)
    if not _pristine_known:
        app.config.TOUCHUP = False
        logger.debug("Sanic was touched up outside tamarco: app %s starts without touchup", app.name)
        return
    wanted = set().union(*(_http_signals(other) for other in _apps))
    for event in sorted(wanted - _http_signals(app)):
        app.signal(event)(_noop)
    for (target, name), method in _pristine.items():
        setattr(target, name, method)
    app.config.TOUCHUP = True


def after_startup(app: Sanic) -> None:
    """A started app ignores built-in signals it has no handler for (see the module doc)."""
    app.signal_router.allow_fail_builtin = False
