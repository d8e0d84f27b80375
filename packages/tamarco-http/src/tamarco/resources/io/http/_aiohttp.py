"""``aiohttp.web`` without aiohttp's client side, for the report server.

``import aiohttp.web`` runs ``aiohttp/__init__.py`` first, which imports the whole client
(``aiohttp.client``, ``aiohttp.connector``: two SSL contexts built at import, the CA bundle read
twice). A service that only serves its report server never uses any of it, and it was the
largest single cost of a service's start (about a quarter of it, benchmarks/service_lifecycle.py).

:func:`aiohttp_web` imports ``aiohttp.web`` with the package ``aiohttp`` created but its
``__init__`` not yet run: the package's names (``aiohttp.ClientSession``, ``aiohttp.TCPConnector``...)
are loaded on first access, by a module ``__getattr__`` that runs the real ``__init__`` then, so
``import aiohttp`` anywhere later behaves as usual. When ``aiohttp`` is already imported, it is
left alone. The aiohttp internals this relies on (its ``__init__`` importing only
``__version__`` from itself at the web side's import, and ``aiohttp.web`` not importing
``aiohttp.client``) are checked by tamarco-http's tests/unit/test_aiohttp_lazy.py against the installed release.
"""

from __future__ import annotations

import importlib
import importlib.util
import re
import sys
import threading
from types import ModuleType
from typing import Any

__all__ = ["aiohttp_web"]

_loading = threading.RLock()
_VERSION = re.compile(rb"""^__version__\s*=\s*["']([^"']+)["']""", re.MULTILINE)


def aiohttp_web() -> ModuleType:
    """``aiohttp.web``, imported without aiohttp's client when aiohttp is not imported yet."""
    with _loading:
        if "aiohttp" not in sys.modules:
            _install_deferred_package()
        return importlib.import_module("aiohttp.web")


def _install_deferred_package() -> None:
    spec = importlib.util.find_spec("aiohttp")
    if spec is None or spec.loader is None or spec.origin is None:
        raise ImportError("aiohttp is not installed (tamarco-http requires it)", name="aiohttp")
    with open(spec.origin, "rb") as source:
        found = _VERSION.search(source.read())
    if found is None:  # not the package layout this module knows: import it whole
        importlib.import_module("aiohttp")
        return
    package = importlib.util.module_from_spec(spec)
    package.__dict__["__version__"] = found.group(1).decode()  # ``from . import __version__``
    loader = spec.loader
    state = {"done": False}

    def __getattr__(name: str) -> Any:
        if not state["done"] and importlib.util.find_spec(f"aiohttp.{name}") is not None:
            # A submodule (``from . import hdrs`` asks the package first): import just that one.
            return importlib.import_module(f"aiohttp.{name}")
        # The first other name the deferred __init__ would have defined: run it now, here.
        with _loading:
            if not state["done"]:
                state["done"] = True
                del package.__dict__["__getattr__"]
                loader.exec_module(package)
        try:
            return package.__dict__[name]
        except KeyError:
            hook = package.__dict__.get("__getattr__")  # aiohttp's own (its gunicorn workers)
            if hook is not None:
                return hook(name)
            raise AttributeError(f"module 'aiohttp' has no attribute {name!r}") from None

    package.__dict__["__getattr__"] = __getattr__  # a module-level __getattr__ (PEP 562)
    sys.modules["aiohttp"] = package
