"""Keep secrets out of ``/status``, the probes and the restart-policy logs.

Three rules, applied to every string and mapping that leaves the status resource:

* a value under a key that looks like a secret (``password``, ``token``, ``secret``...) is
  replaced by ``***``;
* the password of a URL (``amqp://user:password@host``) is replaced by ``***``;
* any secret *value* found in the service's settings (leaves under secret-looking keys) is
  replaced by ``***`` wherever it appears, e.g. inside an exception message.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["MASK", "Redactor", "is_secret_key"]

MASK = "***"

_SECRET_KEY = re.compile(
    r"password|passwd|passphrase|secret|token|api[_-]?key|credential|private[_-]?key|authorization|^pwd$",
    re.IGNORECASE,
)
_URL_PASSWORD = re.compile(r"(?P<prefix>[a-zA-Z][a-zA-Z0-9+.-]*://[^:/@\s]*:)[^@\s/]+@")
#: Shorter secret values are not searched inside strings: they would mask unrelated text.
_MIN_SECRET_LENGTH = 4


def is_secret_key(key: str) -> bool:
    """Whether a mapping key or setting name holds a secret."""
    return bool(_SECRET_KEY.search(key))


def secret_values(tree: Any) -> set[str]:
    """Every leaf value of a settings tree whose key (at any depth) looks like a secret."""
    found: set[str] = set()

    def walk(node: Any, secret: bool) -> None:
        if isinstance(node, Mapping):
            for key, value in node.items():
                walk(value, secret or is_secret_key(str(key)))
        elif isinstance(node, (list, tuple)):
            for value in node:
                walk(value, secret)
        elif secret and node is not None and not isinstance(node, bool):
            text = str(node)
            if len(text) >= _MIN_SECRET_LENGTH:
                found.add(text)

    walk(tree, False)
    return found


class Redactor:
    """Masks secrets in the JSON-like data the status endpoints return."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self.secrets = sorted({s for s in secrets if len(s) >= _MIN_SECRET_LENGTH}, key=len, reverse=True)

    @classmethod
    def from_settings(cls, tree: Any) -> Redactor:
        return cls(secret_values(tree))

    def text(self, value: str) -> str:
        """``value`` with URL passwords and known secret values masked."""
        value = _URL_PASSWORD.sub(lambda m: f"{m.group('prefix')}{MASK}@", value)
        for secret in self.secrets:
            if secret in value:
                value = value.replace(secret, MASK)
        return value

    def data(self, value: Any) -> Any:
        """A copy of ``value`` (dicts, lists, scalars) with every secret masked."""
        if isinstance(value, Mapping):
            return {
                str(k): (MASK if is_secret_key(str(k)) and v not in (None, "") else self.data(v))
                for k, v in value.items()
            }
        if isinstance(value, (list, tuple, set, frozenset)):
            return [self.data(v) for v in value]
        if isinstance(value, str):
            return self.text(value)
        if value is None or isinstance(value, (bool, int, float)):
            return value
        return self.text(str(value))
