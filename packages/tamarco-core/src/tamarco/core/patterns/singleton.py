"""The Singleton metaclass."""

from __future__ import annotations

import threading
from typing import Any


class Singleton(type):
    """Metaclass restricting a class to a single instance.

    Each class using it (subclasses included) gets its own instance, created on the first call
    and returned on every later one; constructor arguments of later calls are ignored.
    """

    _instances: dict[type, Any] = {}
    _lock = threading.Lock()

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        try:
            return Singleton._instances[cls]
        except KeyError:
            with Singleton._lock:
                if cls not in Singleton._instances:
                    Singleton._instances[cls] = super().__call__(*args, **kwargs)
                return Singleton._instances[cls]

    def _reset_instance(cls) -> None:
        """Forget the instance (for tests)."""
        Singleton._instances.pop(cls, None)
