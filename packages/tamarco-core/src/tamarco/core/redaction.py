"""Keep secrets out of logs, ``/status`` and exception messages: one set of rules for all.

A :class:`Redactor` masks (with :data:`MASK`):

* the value under any key that looks like a secret (:func:`is_secret_key`: ``pass``,
  ``password``, ``passwd``, ``pwd``, ``secret``, ``token``, ``api_key``, ``credentials``,
  ``authorization``, ``private_key``, ``cookie``... case-insensitive, anywhere in the key), in
  mappings at any depth and in text written as ``key=value``, ``key: value`` or
  ``'key': 'value'`` (a dict's ``repr`` in an exception message);
* the password of every URL in a text, including passwords holding ``/``, ``@`` or ``:``
  (``amqp://bob:pa/ss-SECRET@host/vhost``): everything from the ``:`` after the user to the
  last ``@`` of the URL is masked;
* every secret *value* the service's settings hold (leaves under secret-looking keys, at
  least :data:`MIN_SECRET_LENGTH` characters), wherever it appears in a text: an error
  message that quotes a password without naming it.

The microservice owns one (``service.redactor``), following its settings; its logging masks
every record with it (message, arguments, traceback, ``extra`` strings), the status resource
masks ``/status`` with it, and the lifecycle errors (:class:`~tamarco.core.errors.ResourceStartError`)
carry masked messages. Plugins mask what they log or raise with ``service.redactor.text(...)``
or, without a service at hand, with :func:`redact_text`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

__all__ = [
    "MASK",
    "MIN_SECRET_LENGTH",
    "SECRET_KEY_PATTERN",
    "Redactor",
    "is_secret_key",
    "redact_data",
    "redact_text",
    "redact_url",
    "secret_values",
]

#: What a secret is replaced with.
MASK = "********"
#: Shorter secret values are not searched for inside texts: they would mask unrelated text.
MIN_SECRET_LENGTH = 4

#: Keys whose values are secrets (case-insensitive, anywhere in the key name). ``pass`` counts
#: only as a word of its own (``pass``, ``db_pass``), not inside ``bypass`` or ``passenger``.
SECRET_KEY_PATTERN = re.compile(
    r"passw|passphrase|pwd|(?:^|[^a-z])pass(?:[^a-z]|$)|secret|token|api[-_]?key|credential"
    r"|authorization|private[-_]?key|cookie|session[-_]?id",
    re.IGNORECASE,
)

#: ``scheme://user:password@``: the password runs to the last ``@`` of the URL (a password may
#: hold ``/``, ``@`` and ``:``; the URL ends at a space, a quote or an angle bracket).
_URL_PASSWORD = re.compile(r"(?P<prefix>\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s:/@'\"<>]*:)(?P<password>[^\s'\"<>]*)@")
#: ``key=value``, ``key: value``, ``"key": "value"``, ``'key': 'value'`` where the key may be a secret's.
_KEY_VALUE = re.compile(
    r"(?P<key>[A-Za-z_][\w.-]*)(?P<sep>['\"]?[ \t]*[=:][ \t]*)(?P<quote>['\"]?)(?P<value>[^\s'\",;&)}\]]+)"
)
#: A cheap test before running :data:`_KEY_VALUE` (substring tests on the lowered text are
#: much faster than a case-insensitive regex search): a secret-looking word in the text.
_SECRET_WORDS = (
    "pass",
    "pwd",
    "secret",
    "token",
    "api_key",
    "api-key",
    "apikey",
    "credential",
    "authorization",
    "private",
    "cookie",
    "session",
)

_SECRET_KEYS: dict[str, bool] = {}


def is_secret_key(key: object) -> bool:
    """Whether values stored under ``key`` are secrets (cached: keys repeat)."""
    if not isinstance(key, str):
        return False
    known = _SECRET_KEYS.get(key)
    if known is None:
        known = SECRET_KEY_PATTERN.search(key) is not None
        if len(_SECRET_KEYS) < 10_000:  # bounded: keys built from data must not grow it forever
            _SECRET_KEYS[key] = known
    return known


def secret_values(tree: Any) -> set[str]:
    """Every leaf of a settings tree under a secret-looking key (at any depth above it),
    as text, at least :data:`MIN_SECRET_LENGTH` characters long."""
    found: set[str] = set()

    def walk(node: Any, secret: bool, depth: int) -> None:
        if depth > 32:
            return
        if isinstance(node, Mapping):
            for key, value in node.items():
                walk(value, secret or is_secret_key(str(key)), depth + 1)
        elif isinstance(node, (list, tuple)):
            for value in node:
                walk(value, secret, depth + 1)
        elif secret and node is not None and not isinstance(node, bool):
            text = str(node)
            if len(text) >= MIN_SECRET_LENGTH:
                found.add(text)

    walk(tree, False, 0)
    return found


def _mask_key_value(match: re.Match[str]) -> str:
    if not is_secret_key(match.group("key")):
        return match.group(0)
    return f"{match.group('key')}{match.group('sep')}{match.group('quote')}{MASK}"


class Redactor:
    """Masks secrets in texts and JSON-like data (see the module docstring for the rules).

    ``secrets`` are known secret values; with ``source`` (a callable returning the settings
    tree, e.g. ``lambda: settings.effective``) they follow the settings: they are collected
    again whenever ``source()`` returns another object.
    """

    def __init__(self, secrets: Iterable[str] = (), *, source: Callable[[], Any] | None = None) -> None:
        self._secrets = self._sorted(secrets)
        #: Values given to :meth:`add`: kept when the settings change.
        self._added: tuple[str, ...] = ()
        self._source = source
        self._source_tree: object = None

    @staticmethod
    def _sorted(secrets: Iterable[str]) -> tuple[str, ...]:
        return tuple(sorted({s for s in secrets if len(s) >= MIN_SECRET_LENGTH}, key=len, reverse=True))

    @classmethod
    def from_settings(cls, tree: Any) -> Redactor:
        """A redactor knowing the secret values of the settings tree ``tree``."""
        return cls(secret_values(tree))

    @property
    def secrets(self) -> tuple[str, ...]:
        """The known secret values, longest first."""
        if self._source is not None:
            try:
                tree = self._source()
            except Exception:  # settings not readable (yet): keep what is known
                tree = self._source_tree
            if tree is not self._source_tree:
                self._secrets = self._sorted((*secret_values(tree), *self._added))
                self._source_tree = tree
        return self._secrets

    def add(self, *secrets: str) -> None:
        """Know more secret values (a password given in code rather than in the settings)."""
        added = tuple(s for s in secrets if isinstance(s, str))
        self._added = (*self._added, *added)
        self._secrets = self._sorted((*self._secrets, *added))

    def text(self, value: str) -> str:
        """``value`` with URL passwords, ``key=value`` secrets and known secret values masked."""
        if "://" in value:
            value = _URL_PASSWORD.sub(lambda m: f"{m.group('prefix')}{MASK}@", value)
        lowered = value.lower()
        if any(word in lowered for word in _SECRET_WORDS):
            value = _KEY_VALUE.sub(_mask_key_value, value)
        for secret in self.secrets:
            if secret in value:
                value = value.replace(secret, MASK)
        return value

    def data(self, value: Any, _depth: int = 0) -> Any:
        """A copy of ``value`` (mappings, sequences, scalars) with every secret masked.

        Scalars other than text, numbers, booleans and None become their (masked) ``str``.
        """
        if isinstance(value, str):
            return self.text(value)
        if value is None or isinstance(value, (bool, int, float)):
            return value
        if _depth > 32:
            return self.text(str(value))
        if isinstance(value, Mapping):
            return {
                str(k): (MASK if is_secret_key(str(k)) and v not in (None, "") else self.data(v, _depth + 1))
                for k, v in value.items()
            }
        if isinstance(value, (list, tuple, set, frozenset)):
            return [self.data(v, _depth + 1) for v in value]
        return self.text(str(value))


_DEFAULT = Redactor()


def redact_text(value: str) -> str:
    """``value`` with URL passwords and ``key=value`` secrets masked (no known values)."""
    return _DEFAULT.text(value)


def redact_data(value: Any) -> Any:
    """A copy of ``value`` with secret keys' values, URL passwords and ``key=value`` secrets masked."""
    return _DEFAULT.data(value)


def redact_url(url: str) -> str:
    """``url`` without the password of its user info (safe to log)."""
    return _URL_PASSWORD.sub(lambda m: f"{m.group('prefix')}{MASK}@", url)
