"""Settings from environment variables: one general rule, the 12-factor habit.

``TAMARCO__`` followed by the key, upper case, with ``__`` where the key has a dot, sets that
key: ``TAMARCO__SYSTEM__RESOURCES__HTTP__PORT=8081`` sets ``system.resources.http.port``. Key
segments are lower-cased (``_`` inside a segment stays: ``..._DRAIN_TIMEOUT_SECONDS``). The value
is read as YAML, so ``8081`` is a number, ``true`` a boolean, ``[a, b]`` a list and ``"8081"`` a
string; an empty value is an error naming the variable.

Precedence, lowest first: the internal defaults, the settings file or etcd, the environment.
Then ``system.microservices.<name>`` is merged over ``system`` as usual, so a per-service key
still wins over a general one; the environment can name a per-service key too.

A resource with no address settings takes its connection from the variables
``tamarco-harness up`` prints (:func:`address_from_environment`): ``TAMARCO_AMQP_URL`` for an
AMQP resource, ``TAMARCO_KAFKA_BOOTSTRAP_SERVERS`` for a Kafka one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from tamarco.core.errors import ExpectedStartFailure
from tamarco.core.settings import keys
from tamarco.core.settings.errors import SettingsError

if TYPE_CHECKING:
    from tamarco.core.settings.settings import SettingsView

__all__ = ["ENVIRONMENT_PREFIX", "EnvironmentSettingError", "address_from_environment", "settings_from_environment"]

ENVIRONMENT_PREFIX = "TAMARCO__"


class EnvironmentSettingError(SettingsError, ExpectedStartFailure):
    """A ``TAMARCO__...`` variable that does not name a key or holds no usable value."""


def settings_from_environment(environ: Mapping[str, str]) -> dict[str, Any]:
    """The settings tree the ``TAMARCO__*`` variables of ``environ`` describe."""
    tree: dict[str, Any] = {}
    for variable in sorted(environ):
        if not variable.startswith(ENVIRONMENT_PREFIX):
            continue
        parts = [part.lower() for part in variable[len(ENVIRONMENT_PREFIX) :].split("__")]
        if not all(parts):
            raise EnvironmentSettingError(
                f"environment variable {variable} does not name a setting: write TAMARCO__ and the key "
                "with __ for each dot, e.g. TAMARCO__SYSTEM__RESOURCES__HTTP__PORT"
            )
        keys.set_in(tree, parts, _value(variable, environ[variable]))
    return tree


def _value(variable: str, text: str) -> Any:
    if not text.strip():
        raise EnvironmentSettingError(f"environment variable {variable} is empty: give it a value or unset it")
    import yaml  # here, not at the top: most services set no such variable

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text  # not YAML (``a: b: c``): the text as it is


def address_from_environment(view: SettingsView | None, address_keys: Iterable[str], variable: str) -> str | None:
    """``environ[variable]`` when the resource's settings (``view``) set none of ``address_keys``."""
    if view is None:
        return None
    if any(view.get_nowait(key, None) is not None for key in address_keys):
        return None
    value = view.settings.environ.get(variable)
    return value or None
