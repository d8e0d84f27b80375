"""The Proxy pattern: a stable reference whose target can be replaced later."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class Proxy:
    """Forward attribute access and the usual operators to ``_obj``.

    Code can hold the proxy before the real object exists (a promised setting, a resource
    built later); when ``_obj`` is replaced, every holder sees the new target.
    """

    __slots__ = ("_obj",)

    def __init__(self, obj: Any = None) -> None:
        object.__setattr__(self, "_obj", obj)

    @staticmethod
    def make_method(name: str) -> Callable[..., Any]:
        """Build a method that forwards the special method ``name`` to ``_obj``."""

        def method(self: Proxy, *args: Any, **kwargs: Any) -> Any:
            return getattr(object.__getattribute__(self, "_obj"), name)(*args, **kwargs)

        method.__name__ = name
        return method

    def __getattr__(self, name: str) -> Any:
        return getattr(object.__getattribute__(self, "_obj"), name)

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "_obj":
            object.__setattr__(self, name, value)
        else:
            setattr(object.__getattribute__(self, "_obj"), name, value)

    def __repr__(self) -> str:
        return f"Proxy({object.__getattribute__(self, '_obj')!r})"

    def __str__(self) -> str:
        return str(object.__getattribute__(self, "_obj"))

    def __bool__(self) -> bool:
        return bool(object.__getattribute__(self, "_obj"))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Proxy):
            other = object.__getattribute__(other, "_obj")
        return bool(object.__getattribute__(self, "_obj") == other)

    def __hash__(self) -> int:
        return hash(object.__getattribute__(self, "_obj"))


for _name in (
    "__len__",
    "__iter__",
    "__contains__",
    "__getitem__",
    "__setitem__",
    "__delitem__",
    "__call__",
    "__int__",
    "__float__",
    "__index__",
    "__lt__",
    "__le__",
    "__gt__",
    "__ge__",
    "__add__",
    "__radd__",
    "__sub__",
    "__rsub__",
    "__mul__",
    "__rmul__",
    "__truediv__",
    "__rtruediv__",
    "__floordiv__",
    "__mod__",
    "__neg__",
    "__abs__",
    "__format__",
):
    setattr(Proxy, _name, Proxy.make_method(_name))
