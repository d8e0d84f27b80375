"""Choosing the backend: ``TAMARCO_HARNESS_BACKEND=local|docker|auto`` (default ``auto``)."""

from __future__ import annotations

import os
from collections.abc import Mapping

from ._errors import DockerUnavailableError, HarnessError

BACKEND_VARIABLE = "TAMARCO_HARNESS_BACKEND"
CHOICES = ("auto", "local", "docker")
DOCKER_EXTRA_HINT = "pip install 'tamarco-harness[docker]'"


def docker_environment() -> dict[str, str]:
    """The ``DOCKER_*`` variables now (the engine's address, TLS): a harness keeps the ones it
    was created with, so a test changing them later does not move its services."""
    return {key: value for key, value in os.environ.items() if key.startswith("DOCKER_")}


def check_docker(environment: Mapping[str, str] | None = None) -> None:
    """Return if a Docker engine answers a ping within 2 s, else raise DockerUnavailableError.

    ``environment``: the ``DOCKER_*`` variables to use instead of the process's.
    """
    try:
        import docker
        import docker.errors
    except ImportError as exc:
        raise DockerUnavailableError(
            f"the docker backend needs the docker and testcontainers packages: {DOCKER_EXTRA_HINT}"
        ) from exc
    import requests.exceptions

    try:
        docker.from_env(timeout=2, environment=dict(environment) if environment is not None else None).ping()
    except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
        raise DockerUnavailableError(
            f"the docker backend was requested but no Docker engine answers ({exc}); "
            f"start Docker or set {BACKEND_VARIABLE}=local"
        ) from exc
    try:
        import testcontainers.core.container  # noqa: F401
    except ImportError as exc:
        raise DockerUnavailableError(
            f"the docker backend needs the testcontainers package: {DOCKER_EXTRA_HINT}"
        ) from exc


def docker_available(environment: Mapping[str, str] | None = None) -> bool:
    try:
        check_docker(environment)
    except DockerUnavailableError:
        return False
    return True


def resolve_backend(
    requested: str | None = None, *, default: str | None = None, environment: Mapping[str, str] | None = None
) -> str:
    """``"local"`` or ``"docker"``: from ``requested``, else the environment, else ``default``
    (the pytest ini option ``harness_backend``), else ``auto``.

    ``docker`` when requested but unavailable raises :class:`DockerUnavailableError` (no
    silent fallback); ``auto`` picks docker only when an engine answers.
    """
    choice = (requested or os.environ.get(BACKEND_VARIABLE) or default or "auto").strip().lower()
    if choice not in CHOICES:
        raise HarnessError(f"{BACKEND_VARIABLE}={choice!r} is not one of {', '.join(CHOICES)}")
    if choice == "docker":
        check_docker(environment)
        return "docker"
    if choice == "auto":
        return "docker" if docker_available(environment) else "local"
    return "local"
