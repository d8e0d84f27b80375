"""Ships the ``tamarco start_project`` template inside the wheel, from the repository or the sdist.

In the repository the template is ``templates/microservice`` at the root (two levels up); in
the sdist it is ``templates/microservice`` next to this file (the sdist's force-include puts it
there). A wheel built from either gets it as ``tamarco/cli/templates/microservice.zip`` (one
``microservice/`` folder inside): installed as a zip, pip byte-compiles none of the template's
Jinja-laden ``.py`` files. ``tamarco.cli.start_project`` reads the folder or the zip.
"""

from __future__ import annotations

import shutil
import tempfile
import zipfile
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

TEMPLATE = Path("templates") / "microservice"
TARGET = "tamarco/cli/templates/microservice.zip"
IGNORED = ("__pycache__", ".pyc", ".pyo")
#: Fixed entry times: the same template gives the same zip (reproducible wheels).
EPOCH = (1980, 1, 1, 0, 0, 0)


def zip_template(source: Path, archive: Path) -> None:
    """``source`` as ``archive`` holding one ``<source name>/`` folder, entries sorted."""
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as output:
        for path in sorted(source.rglob("*")):
            relative = path.relative_to(source.parent)
            if path.is_dir() or any(part == IGNORED[0] or part.endswith(IGNORED[1:]) for part in relative.parts):
                continue
            info = zipfile.ZipInfo(relative.as_posix(), EPOCH)
            info.external_attr = (path.stat().st_mode & 0o777) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            output.writestr(info, path.read_bytes())


class TemplateHook(BuildHookInterface):  # type: ignore[type-arg]
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if version == "editable":  # the CLI finds the template in the checkout
            return
        root = Path(self.root)
        for candidate in (root / TEMPLATE, root.parent.parent / TEMPLATE):
            if (candidate / "cookiecutter.json").is_file():
                self._scratch = Path(tempfile.mkdtemp(prefix="tamarco-template-"))
                archive = self._scratch / "microservice.zip"
                zip_template(candidate, archive)
                build_data["force_include"][str(archive)] = TARGET
                return
        raise FileNotFoundError(
            f"the start_project template is missing: neither {root / TEMPLATE} (sdist) nor "
            f"{root.parent.parent / TEMPLATE} (repository) holds a cookiecutter.json"
        )

    def finalize(self, version: str, build_data: dict[str, Any], artifact_path: str) -> None:
        scratch = getattr(self, "_scratch", None)
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
