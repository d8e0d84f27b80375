"""Flyweight metaclasses: one instance per key (and per labels) for each class."""

from __future__ import annotations

import inspect
import threading
from typing import Any


class Flyweight(type):
    """Metaclass: instances created with the same first argument are the same object.

    Example::

        class Metric(metaclass=Flyweight):
            def __init__(self, metric_id): ...

        Metric("http_requests") is Metric("http_requests")  # True
    """

    def __init__(cls, name: str, bases: tuple[type, ...], dct: dict[str, Any]) -> None:
        super().__init__(name, bases, dct)
        cls._flyweight_instances: dict[Any, Any] = {}
        cls._flyweight_lock = threading.RLock()

    def _flyweight_key(cls, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        if args:
            return args[0]
        params = list(inspect.signature(cls.__init__).parameters)  # type: ignore[misc]
        first = params[1] if len(params) > 1 else None
        if first is None or first not in kwargs:
            raise TypeError(f"{cls.__name__}() needs its key as the first argument")
        return kwargs[first]

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        key = cls._flyweight_key(args, kwargs)
        with cls._flyweight_lock:
            try:
                return cls._flyweight_instances[key]
            except KeyError:
                instance = super().__call__(*args, **kwargs)
                cls._flyweight_instances[key] = instance
                return instance

    def flyweight_clear(cls) -> None:
        """Forget every instance of this class (for tests)."""
        with cls._flyweight_lock:
            cls._flyweight_instances.clear()


def _freeze(value: Any) -> Any:
    if isinstance(value, dict):
        return frozenset((k, _freeze(v)) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return tuple(_freeze(v) for v in value)
    return value


class FlyweightWithLabels(Flyweight):
    """Flyweight keyed by the first argument and the ``labels`` argument, compared by value.

    ``Metric("req", labels={"method": "get"})`` twice gives the same object; other labels,
    or none, give another one. Label order does not matter.
    """

    def _flyweight_key(cls, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        name = super()._flyweight_key(args, kwargs)
        try:
            bound = inspect.signature(cls.__init__).bind(None, *args, **kwargs)  # type: ignore[misc]
            labels = bound.arguments.get("labels")
        except TypeError:
            labels = kwargs.get("labels")
        return (name, _freeze(labels or {}))
