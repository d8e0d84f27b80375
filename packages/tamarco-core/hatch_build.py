"""Ships the ``tamarco start_project`` template inside the wheel, from the repository or the sdist.

In the repository the template is ``templates/microservice`` at the root (two levels up); in
the sdist it is ``templates/microservice`` next to this file (the sdist's force-include puts it
there). A wheel built from either gets it as ``tamarco/cli/templates/microservice``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

TEMPLATE = Path("templates") / "microservice"
TARGET = "tamarco/cli/templates/microservice"


class TemplateHook(BuildHookInterface):  # type: ignore[type-arg]
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if version == "editable":  # the CLI finds the template in the checkout
            return
        root = Path(self.root)
        for candidate in (root / TEMPLATE, root.parent.parent / TEMPLATE):
            if (candidate / "cookiecutter.json").is_file():
                build_data["force_include"][str(candidate)] = TARGET
                return
        raise FileNotFoundError(
            f"the start_project template is missing: neither {root / TEMPLATE} (sdist) nor "
            f"{root.parent.parent / TEMPLATE} (repository) holds a cookiecutter.json"
        )
