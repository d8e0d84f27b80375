"""How settings map onto etcd keys and values: the etcd settings backend, ``tamarco etcd`` and the
registry all use it.

* A dotted key is a ``/``-joined etcd key under the namespace:
  ``system.logging.profile`` → ``<namespace>/system/logging/profile`` (the namespace is
  ``TAMARCO_ETCD_PREFIX``, empty by default, so the key is ``/system/logging/profile``).
* A value is stored as JSON, so its type survives the round trip (ints stay ints, ``true``
  stays a bool, lists stay lists).
* A dict is a subtree: one etcd key per leaf. An empty dict is stored as the JSON ``{}``.

Keeping this in one module is what makes a YAML file loaded with the CLI read back identical in
a service.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from typing import Any

from tamarco.core.settings import keys

logger = logging.getLogger("tamarco.settings")

__all__ = [
    "decode_value",
    "encode_value",
    "etcd_key",
    "flatten",
    "normalize_namespace",
    "prefix_range_end",
    "settings_key",
    "tree_from_pairs",
]


def normalize_namespace(namespace: str | None) -> str:
    """``"tenant/"`` → ``"/tenant"``; empty or ``"/"`` → ``""`` (keys start at the root)."""
    parts = [part for part in (namespace or "").split("/") if part]
    return "".join(f"/{part}" for part in parts)


def etcd_key(key: str, namespace: str = "") -> bytes:
    """The etcd key of a dotted settings key (``ValueError`` naming the key if unusable)."""
    parts = keys.split_key(key)
    for part in parts:
        if "/" in part:
            raise ValueError(f"invalid settings key {key!r}: a part cannot contain '/'")
    return (namespace + "/" + "/".join(parts)).encode()


def settings_key(raw_key: bytes, namespace: str = "") -> str | None:
    """The dotted key of an etcd key, or None when it is outside the namespace or unmappable."""
    try:
        text = raw_key.decode()
    except UnicodeDecodeError:
        return None
    if not text.startswith(namespace + "/"):
        return None
    parts = text[len(namespace) + 1 :].split("/")
    if any(not part or "." in part for part in parts):
        return None
    return ".".join(parts)


def encode_value(key: str, value: Any) -> bytes:
    """JSON bytes of a leaf value; ``TypeError`` naming the key if it is not JSON-serializable."""
    try:
        return json.dumps(value, allow_nan=False, separators=(",", ":"), ensure_ascii=False).encode()
    except (TypeError, ValueError) as error:
        raise TypeError(
            f"setting {key}: {type(value).__name__} value {_short_repr(value)} cannot be stored "
            f"in etcd as JSON ({error})"
        ) from None


def decode_value(key: str, raw: bytes) -> Any:
    """The value stored at ``key``. Not valid JSON: a warning naming the key, and the raw string."""
    text = raw.decode("utf-8", errors="replace")
    try:
        return json.loads(text)
    except ValueError:
        logger.warning("etcd value of setting %s is not valid JSON; using the raw string %r", key, text)
        return text


def flatten(key: str, value: Any) -> list[tuple[str, Any]]:
    """The leaves a value is stored as: ``[(dotted key, leaf value), ...]``.

    A non-empty dict becomes one leaf per nested value; its keys must be strings without
    ``.`` or ``/`` (``TypeError``/``ValueError`` naming the key otherwise: YAML reads ``1:`` as
    an int and ``yes:`` as a bool, which a path cannot keep).
    """
    if isinstance(value, Mapping) and value:
        leaves: list[tuple[str, Any]] = []
        for child, child_value in value.items():
            if not isinstance(child, str):
                raise TypeError(
                    f"setting {key}: key {child!r} is a {type(child).__name__}; settings keys "
                    "must be strings (quote it in YAML)"
                )
            if not child or "." in child or "/" in child:
                raise ValueError(f"setting {key}: key {child!r} cannot be a path part (empty, '.' or '/')")
            leaves.extend(flatten(f"{key}.{child}", child_value))
        return leaves
    if isinstance(value, Mapping):
        return [(key, {})]
    return [(key, value)]


def tree_from_pairs(pairs: Iterable[tuple[bytes, bytes]], namespace: str = "") -> dict[str, Any]:
    """The nested dict of ``(etcd key, value)`` pairs (keys outside the mapping are skipped
    with a warning). Pairs are applied in key order, so a subtree wins over a leaf at its root."""
    tree: dict[str, Any] = {}
    for raw_key, raw_value in sorted(pairs):
        dotted = settings_key(raw_key, namespace)
        if dotted is None:
            logger.warning(
                "etcd key %r cannot be a settings key (outside %r, empty part or '.'); ignored",
                raw_key.decode("utf-8", errors="replace"),
                namespace or "/",
            )
            continue
        value = decode_value(dotted, raw_value)
        parts = dotted.split(".")
        existing = keys.get_in(tree, parts)
        if isinstance(existing, dict) and isinstance(value, dict):
            value = keys.deep_merge(value, existing)
        keys.set_in(tree, parts, value)
    return tree


def prefix_range_end(prefix: bytes) -> bytes:
    """The etcd ``range_end`` selecting every key that starts with ``prefix``."""
    end = bytearray(prefix)
    for index in range(len(end) - 1, -1, -1):
        if end[index] < 0xFF:
            end[index] += 1
            return bytes(end[: index + 1])
    return b"\x00"


def _short_repr(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
