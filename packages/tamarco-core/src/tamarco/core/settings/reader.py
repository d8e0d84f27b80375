"""Typed reads of one resource's (or policy's) settings, every error naming the full key.

The one settings reader of the resources and policies (messaging transports, the delivery policy,
the messaging resource's timeouts): each getter checks the type and range of one key and raises
with the full key (``system.resources.kafka.commit_interval_seconds``) and the value — never the
value of a secret key. :meth:`SettingsReader.check_known` refuses the keys of a mapping nobody
reads (``delivery: {max_concurency: 1}`` is an error naming
``system.resources.amqp.delivery.max_concurency``, not a silent default). Resources build their
configuration with it in ``create_transport``/``start``, before any connection is attempted.

To report every wrong setting of a configuration at once, read each part in a
``with reader.each():`` block and call :meth:`SettingsReader.raise_problems` at the end: one
error naming every wrong key (its :func:`problems_of` lists them, for a caller that gathers more).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NoReturn, Self

from tamarco.core.errors import ExpectedStartFailure
from tamarco.core.redaction import is_secret_key
from tamarco.core.settings.errors import SettingsError, SettingTypeError

if TYPE_CHECKING:
    from tamarco.core.settings.settings import SettingsView

__all__ = ["SettingValueError", "SettingsReader", "problems_of"]


class SettingValueError(SettingsError, ExpectedStartFailure, ValueError):
    """A setting has a wrong value or an unknown key (the message names the full key)."""


class SettingsReader:
    """Typed reads through ``get(key, default)``, errors naming ``full_key(key)`` and raised as
    ``error`` (a subclass of :class:`SettingValueError`'s bases a package prefers, such as
    ``MessagingSettingsError``)."""

    def __init__(
        self,
        get: Callable[[str, Any], Any],
        full_key: Callable[[str], str] = str,
        *,
        error: Callable[[str], Exception] = SettingValueError,
    ) -> None:
        self._get = get
        self._full_key = full_key
        self._error = error
        #: The wrong settings met in :meth:`each` blocks so far.
        self.problems: list[str] = []
        self._errors: list[Exception] = []

    @classmethod
    def of(cls, view: SettingsView | None, *, error: Callable[[str], Exception] = SettingValueError) -> Self:
        """A reader of ``view`` (``system.resources.<name>``); every key at its default when None."""
        if view is None:
            return cls(lambda key, default: default, error=error)
        return cls(view.get_nowait, view.full_key, error=error)

    @classmethod
    def of_mapping(
        cls, values: Mapping[str, Any], where: str, *, error: Callable[[str], Exception] = SettingValueError
    ) -> Self:
        """A reader of one mapping already read, its keys named ``<where>.<key>``."""
        return cls(values.get, lambda key: f"{where}.{key}", error=error)

    # -- basics -------------------------------------------------------------------------------

    def key(self, key: str) -> str:
        """The full name of ``key``."""
        return self._full_key(key)

    def get(self, key: str, default: Any = None) -> Any:
        return self._get(key, default)

    def fail(self, key: str, problem: str) -> NoReturn:
        """Raise the reader's error: ``setting <full key> <problem>``."""
        raise self._error(f"setting {self.key(key)} {problem}")

    @contextlib.contextmanager
    def each(self) -> Iterator[None]:
        """A block of reads whose wrong setting is recorded in :attr:`problems` (the block stops
        there, the values it did not set keep their defaults) instead of raised: the next block
        is read too, and :meth:`raise_problems` reports them all."""
        caught = self._caught()
        try:
            yield
        except caught as error:
            self._errors.append(error)
            self.problems.extend(problem for problem in problems_of(error) if problem not in self.problems)

    def read_each(self, reads: Mapping[str, Callable[[], Any]]) -> dict[str, Any]:
        """``{name: read()}`` of ``reads``, each in an :meth:`each` block: a wrong one is left
        out and recorded in :attr:`problems` (:meth:`raise_problems` reports them all)."""
        values: dict[str, Any] = {}
        for name, read in reads.items():
            with self.each():
                values[name] = read()
        return values

    def raise_problems(self) -> None:
        """Raise the reader's error naming every problem recorded by :meth:`each` (if any)."""
        if len(self._errors) == 1 and list(problems_of(self._errors[0])) == self.problems:
            raise self._errors[0]  # one wrong setting: its own error, as a direct read raises it
        if self.problems:
            raise self.problems_error(self.problems)

    def problems_error(self, problems: Sequence[str]) -> Exception:
        """The reader's error naming every one of ``problems`` (a subclass whose error is built
        otherwise overrides it, with :meth:`fail`)."""
        return settings_error(self._error, problems)

    def _caught(self) -> tuple[type[Exception], ...]:
        """The errors a wrong setting raises: the reader's own, :class:`SettingValueError` and
        :class:`SettingTypeError` (a read with ``expect=``)."""
        error = self._error
        if isinstance(error, type) and issubclass(error, Exception):
            return (SettingValueError, SettingTypeError, error)
        return (SettingValueError, SettingTypeError)

    def _shown(self, key: str, value: Any) -> str:
        return "a value that is not shown" if is_secret_key(key.rsplit(".", 1)[-1]) else repr(value)

    # -- typed getters ------------------------------------------------------------------------

    def text(self, key: str, default: str) -> str:
        value = self.get(key, default)
        if not isinstance(value, str) or not value:
            self.fail(key, f"must be a non-empty string, got {self._shown(key, value)}")
        return value

    def optional_text(self, key: str) -> str | None:
        value = self.get(key, None)
        if value is None:
            return None
        if not isinstance(value, str) or not value:
            self.fail(key, f"must be a non-empty string, got {self._shown(key, value)}")
        return value

    def required_text(self, key: str, *, secret: bool = False) -> str:
        value = self.get(key, None)
        if not isinstance(value, str) or not value:
            shown = "a value that is not a non-empty string" if secret else repr(value)
            self.fail(key, f"is required (a non-empty string), got {shown}")
        return value

    def choice(self, key: str, choices: tuple[str, ...], default: str) -> str:
        """One of ``choices`` (text compared in the case of the choices)."""
        value = self.get(key, default)
        if isinstance(value, str):
            value = value.upper() if choices[0].isupper() else value.lower()
        if value not in choices:
            self.fail(key, f"must be one of {', '.join(str(c) for c in choices)}, got {value!r}")
        return str(value)

    def boolean(self, key: str, default: bool) -> bool:
        value = self.get(key, default)
        if not isinstance(value, bool):
            self.fail(key, f"must be true or false, got {value!r}")
        return value

    def seconds(self, key: str, default: float) -> float:
        """A number of seconds > 0."""
        value = self.get(key, default)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
            self.fail(key, f"must be a number of seconds > 0, got {value!r}")
        return float(value)

    def whole(self, key: str, default: int, *, minimum: int = 0) -> int:
        """A whole number >= ``minimum``."""
        value = self.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            self.fail(key, f"must be a whole number >= {minimum}, got {value!r}")
        return value

    def number(self, key: str, default: float, *, minimum: float = 0.0) -> float:
        """A finite number >= ``minimum``."""
        value = self.get(key, default)
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or not math.isfinite(value)
            or value < minimum
        ):
            self.fail(key, f"must be a number >= {minimum:g}, got {value!r}")
        return float(value)

    def mapping(self, key: str) -> Mapping[str, Any]:
        """A mapping (empty when unset)."""
        value = self.get(key, None)
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            self.fail(key, f"must be a mapping, got {type(value).__name__}")
        return value

    def check_known(self, section: str | None, values: Mapping[str, Any], known: Iterable[str]) -> None:
        """Refuse the keys of ``values`` (the mapping at ``section``, or the reader's own keys when
        None) that are not in ``known``: one error naming every unknown full key and the known ones
        (:func:`problems_of` lists them one by one)."""
        names = tuple(known)
        unknown = [name for name in values if name not in names]
        if not unknown:
            return
        hint = f"is unknown (known: {', '.join(sorted(names))})"
        keys = [f"{section}.{name}" if section else str(name) for name in unknown]
        if len(keys) == 1:
            self.fail(keys[0], hint)
        raise self.problems_error([f"setting {self.key(key)} {hint}" for key in keys])


def settings_error(error: Callable[[str], Exception], problems: Sequence[str]) -> Exception:
    """``error`` naming every one of ``problems`` (wrong settings), which :func:`problems_of` gives back."""
    if len(problems) == 1:
        raised = error(problems[0])
    else:
        raised = error(f"{len(problems)} wrong settings: " + "; ".join(problems))
    raised.problems = tuple(problems)  # type: ignore[attr-defined]
    return raised


def problems_of(error: Exception) -> tuple[str, ...]:
    """The wrong settings an error of :meth:`SettingsReader.raise_problems` names (or the error's text)."""
    problems: tuple[str, ...] | None = getattr(error, "problems", None)
    return problems if problems else (str(error),)
