"""Settings from a YAML or JSON file (``TAMARCO_YML_FILE``)."""

from __future__ import annotations

import json
import os
from typing import Any

from tamarco.core.settings.backends.interface import SettingsBackend
from tamarco.core.settings.errors import SettingsFileError


class FileSettingsBackend(SettingsBackend):
    """Loads the whole tree from a file; ``.json`` is parsed as JSON, anything else as YAML.

    The file is read once at start. ``set``/``delete`` change this process's view only; the
    file on disk is never rewritten.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        self.description = f"file {self.path}"

    async def load(self) -> dict[str, Any]:
        return load_settings_file(self.path)


def load_settings_file(path: str) -> dict[str, Any]:
    """Parse a settings file into a dict, with errors naming the file and line."""
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except FileNotFoundError:
        raise SettingsFileError(path, "no such file (set by TAMARCO_YML_FILE?)") from None
    except OSError as error:
        raise SettingsFileError(path, f"cannot read: {error.strerror}") from error
    if path.lower().endswith(".json"):
        try:
            data = json.loads(text) if text.strip() else {}
        except json.JSONDecodeError as error:
            raise SettingsFileError(path, f"invalid JSON: {error.msg}", error.lineno) from error
    else:
        import yaml  # here, not at the top: every service imports this module, few read YAML

        try:
            data = yaml.safe_load(text)
            _refuse_empty_values(path, yaml.compose(text, Loader=yaml.SafeLoader), [])
        except yaml.YAMLError as error:
            mark = getattr(error, "problem_mark", None)
            line = mark.line + 1 if mark is not None else None
            problem = getattr(error, "problem", None) or str(error)
            raise SettingsFileError(path, f"invalid YAML: {problem}", line) from error
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise SettingsFileError(path, f"the top level must be a mapping, not {type(data).__name__}")
    return data


def _refuse_empty_values(path: str, node: Any, parents: list[str]) -> None:
    """An empty value (``port:`` with nothing after it) is a mistake, not "unset": name its key.

    An explicit ``null`` or ``~`` stays allowed (it says "no value" on purpose).
    """
    import yaml

    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = [*parents, str(key_node.value)]
            if isinstance(value_node, yaml.ScalarNode) and value_node.tag.endswith(":null") and value_node.value == "":
                raise SettingsFileError(
                    path,
                    f"setting {'.'.join(key)} is empty: give it a value, or remove the line to use the default",
                    key_node.start_mark.line + 1,
                )
            _refuse_empty_values(path, value_node, key)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _refuse_empty_values(path, item, [*parents, str(index)])
