"""A service class's instance for its contract documents, without starting it."""

from __future__ import annotations

import contextlib
import importlib
import inspect
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tamarco.core.settings.settings import ROOT_SETTINGS, SettingsView

__all__ = ["ContractError", "load_service_class", "service_info", "service_with_settings"]


class ContractError(ValueError):
    """The service class or its settings cannot be described (the message says why)."""


def load_service_class(spec: str) -> type[Any]:
    """``module:ServiceClass`` (or ``path/to/file.py:ServiceClass``) to the class."""
    module_name, _, class_name = spec.partition(":")
    if not module_name or not class_name:
        raise ContractError(f"{spec!r}: give the service class as module:ServiceClass")
    if module_name.endswith(".py"):
        path = Path(module_name).resolve()
        if not path.is_file():
            raise ContractError(f"{spec!r}: no file {path}")
        sys.path.insert(0, str(path.parent))
        module_name = path.stem
    elif "" not in sys.path and str(Path.cwd()) not in sys.path:
        sys.path.insert(0, str(Path.cwd()))  # like `python -m`: modules of the current directory
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        if error.name == module_name:
            raise ContractError(f"{spec!r}: no module {module_name!r} (run from the project's directory)") from None
        raise
    found = getattr(module, class_name, None)
    if not inspect.isclass(found):
        raise ContractError(f"{spec!r}: module {module_name} has no class {class_name!r}")
    from tamarco.core.microservice import MicroserviceBase

    if not issubclass(found, MicroserviceBase):
        raise ContractError(f"{spec!r}: {class_name} is not a Microservice")
    return found


async def service_with_settings(service_class: type[Any], settings_file: str | None = None) -> Any:
    """An instance of ``service_class`` whose resources see the settings, not started.

    The settings are the service's internal defaults plus ``settings_file`` (a YAML/JSON file,
    as ``TAMARCO_YML_FILE`` gives the running service; etcd is then not read), or, without it,
    whatever source the environment names, as for the running service."""
    environ = dict(os.environ)
    if settings_file is not None:
        if not os.path.isfile(settings_file):  # noqa: ASYNC240  (one stat before the service exists)
            raise ContractError(f"settings file {settings_file!r} does not exist")
        environ = {key: value for key, value in environ.items() if not key.startswith("TAMARCO_ETCD")}
        environ["TAMARCO_YML_FILE"] = settings_file
    parameters = inspect.signature(service_class).parameters
    if "environ" in parameters or any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        service = service_class(environ=environ)
    else:  # a service whose __init__ takes no arguments: its Settings read os.environ
        with _environment(environ):
            service = service_class()
    with _environment(environ):
        await service.settings.start()
    try:
        bind_settings(service)
    finally:
        await service.settings.stop()
    return service


@contextlib.contextmanager
def _environment(environ: dict[str, str]) -> Iterator[None]:
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(environ)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def bind_settings(service: Any) -> None:
    """Bind every resource to ``service`` with its settings view, as the start does before any
    I/O (``bind`` and ``configure_settings`` of the base resource, not the overrides)."""
    for name, resource in service.resources.items():
        resource.microservice = service
        resource.name = name
        resource.settings = SettingsView(service.settings, f"{ROOT_SETTINGS}.resources.{name}")


def service_info(service: Any) -> dict[str, Any]:
    """The ``info`` object: the service's name, ``version`` (a class attribute; 0.0.0 if none)
    and description (its class docstring)."""
    cls = type(service)
    info: dict[str, Any] = {"title": str(service.name), "version": str(getattr(cls, "version", None) or "0.0.0")}
    doc = cls.__dict__.get("__doc__")
    if doc:
        info["description"] = inspect.cleandoc(doc)
    return info
