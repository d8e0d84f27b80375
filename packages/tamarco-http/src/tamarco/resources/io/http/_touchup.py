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

Apps are released with their servers (no process-wide list that only grows): :func:`adopt` takes
a new app out of ``Sanic._app_registry`` (Sanic keeps every app there forever, and the app holds
its server through the error handler), :func:`running` and :func:`stopped` put it there only while
it serves, and once the server is garbage-collected its name and signals are forgotten here.
Sanic apps cannot be weakly referenced, so this module keeps names and signal names, never apps.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import weakref
from collections.abc import Iterator
from typing import Any

from sanic import Sanic
from sanic.application.state import ApplicationServerInfo
from sanic.exceptions import SanicException
from sanic.http.constants import HTTP
from sanic.touchup import TouchUp

__all__ = ["adopt", "after_startup", "http1_only", "prepare_first_startup", "running", "stopped"]

logger = logging.getLogger("tamarco.http")

_pristine: dict[tuple[type, str], Any] = {}
_pristine_known = not any(getattr(target, "__touched__", False) for target, _ in TouchUp._registry)
if _pristine_known:
    _pristine = {(target, name): target.__dict__[name] for target, name in TouchUp._registry if name in target.__dict__}
    _pristine_known = len(_pristine) == len(TouchUp._registry)

_tokens = itertools.count(1)
#: The adopted apps whose server is alive: app name -> token of that adoption.
_live: dict[str, int] = {}
#: The ``http.*`` signals each adopted app listens to (by app name), noted at its first startup:
#: the touched-up methods must keep dispatching them for as long as the app may serve again.
_signals: dict[str, frozenset[str]] = {}


def adopt(app: Sanic, owner: object) -> None:
    """Take ``app``, just created for ``owner``, out of Sanic's process-wide registry (until
    :func:`running`), and forget it once ``owner`` is garbage-collected.

    ``SanicException`` when a live server's app already has this name (what Sanic itself
    raises for two registered apps of one name).
    """
    Sanic.unregister_app(app)
    if app.name in _live:
        raise SanicException(f'Sanic app name "{app.name}" already in use.')
    token = next(_tokens)
    _live[app.name] = token
    weakref.finalize(owner, _forget, app.name, token)


def _forget(name: str, token: int) -> None:
    if _live.get(name) == token:
        del _live[name]
        _signals.pop(name, None)


def running(app: Sanic) -> None:
    """``app`` serves: in Sanic's registry (``Sanic.get_app(name)`` finds it) until :func:`stopped`."""
    if Sanic._app_registry.get(app.name) is not app:
        Sanic.register_app(app)


def stopped(app: Sanic) -> None:
    """``app`` no longer serves: out of Sanic's registry, so nothing there keeps it alive."""
    if Sanic._app_registry.get(app.name) is app:
        Sanic.unregister_app(app)


async def _noop(**_: Any) -> None:
    """Handler that keeps a signal's dispatch in the touched-up methods."""


def _http_signals(app: Sanic) -> set[str]:
    return {route.name for route in app.signal_router.routes if route.name.startswith("http.")}


def prepare_first_startup(app: Sanic) -> None:
    """Make ``app``'s first ``startup()`` touch Sanic up correctly for every live app."""
    if not _pristine_known:
        app.config.TOUCHUP = False
        logger.debug("Sanic was touched up outside tamarco: app %s starts without touchup", app.name)
        return
    others = (signals for name, signals in _signals.items() if name != app.name)
    wanted: set[str] = set().union(*others)
    for event in sorted(wanted - _http_signals(app)):
        app.signal(event)(_noop)
    if app.name in _live:
        _signals[app.name] = frozenset(_http_signals(app))
    for (target, name), method in _pristine.items():
        setattr(target, name, method)
    app.config.TOUCHUP = True


@contextlib.contextmanager
def http1_only(app: Sanic, port: int) -> Iterator[None]:
    """Around ``startup()``: tell Sanic's touchup that ``app`` serves HTTP/1 only.

    Sanic's ``AltSvcCheck`` touchup removes the ``alt-svc`` header line of every response only when
    ``app.state.server_info`` lists exactly one HTTP version; ``app.run`` fills that list, an app
    served by ``create_server`` has it empty, and then every response carried an empty
    ``alt-svc:`` header: about 12k instructions per request, 5% of a hello-world request
    (benchmarks/http_instructions.py). The entry is removed after the startup, so Sanic's own
    cross-app signal syncing (which looks at apps with server info) never sees it.
    """
    info = ApplicationServerInfo(settings={"version": HTTP.VERSION_1, "port": port})
    app.state.server_info.append(info)
    try:
        yield
    finally:
        app.state.server_info.remove(info)


def after_startup(app: Sanic) -> None:
    """A started app ignores built-in signals it has no handler for (see the module doc)."""
    app.signal_router.allow_fail_builtin = False
    if app.name in _signals:
        _signals[app.name] = frozenset(_http_signals(app))
