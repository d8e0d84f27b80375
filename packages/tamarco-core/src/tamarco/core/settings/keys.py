"""Dotted keys and nested dicts: the small tree operations the settings are built on."""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from typing import Any

MISSING: Any = object()


def split_key(key: str) -> list[str]:
    """``"system.logging.profile"`` → ``["system", "logging", "profile"]``."""
    if not isinstance(key, str) or not key or any(not part for part in key.split(".")):
        raise ValueError(f"invalid settings key {key!r}: use non-empty dotted names")
    return key.split(".")


def join_key(*parts: str) -> str:
    return ".".join(part for part in parts if part)


def get_in(tree: Mapping[str, Any], parts: list[str]) -> Any:
    """The value at ``parts`` or :data:`MISSING`."""
    node: Any = tree
    for part in parts:
        if not isinstance(node, Mapping) or part not in node:
            return MISSING
        node = node[part]
    return node


def set_in(tree: dict[str, Any], parts: list[str], value: Any) -> None:
    node = tree
    for part in parts[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = {}
            node[part] = child
        node = child
    node[parts[-1]] = value


def delete_in(tree: dict[str, Any], parts: list[str]) -> bool:
    """Delete the value at ``parts``; prune parents left empty. True if something was deleted."""
    trail = []
    node: Any = tree
    for part in parts[:-1]:
        if not isinstance(node, dict) or part not in node:
            return False
        trail.append((node, part))
        node = node[part]
    if not isinstance(node, dict) or parts[-1] not in node:
        return False
    del node[parts[-1]]
    for parent, part in reversed(trail):
        if parent[part] == {}:
            del parent[part]
        else:
            break
    return True


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """A new dict: ``base`` with ``override`` merged in; the override wins at every depth."""
    merged: dict[str, Any] = {key: copy.deepcopy(value) for key, value in base.items()}
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def iter_leaves(tree: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Every (dotted key, value) whose value is not a non-empty dict."""
    for key, value in tree.items():
        dotted = join_key(prefix, str(key))
        if isinstance(value, Mapping) and value:
            yield from iter_leaves(value, dotted)
        else:
            yield dotted, value


def diff_leaves(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """Changed leaves between two trees: ``(key, new value)``, or ``(key, MISSING)`` if gone."""
    old_leaves = dict(iter_leaves(old))
    new_leaves = dict(iter_leaves(new))
    changes = [(key, value) for key, value in new_leaves.items() if old_leaves.get(key, MISSING) != value]
    changes.extend((key, MISSING) for key in old_leaves if key not in new_leaves)
    return changes


def is_under(key: str, prefix: str) -> bool:
    """True when ``key`` is ``prefix`` or below it (never a mere string prefix)."""
    return key == prefix or key.startswith(prefix + ".")
