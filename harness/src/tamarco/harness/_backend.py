"""Choosing the backend: ``TAMARCO_HARNESS_BACKEND=local|docker|auto`` (default ``auto``)."""

from __future__ import annotations

import os

from ._errors import DockerUnavailableError, HarnessError

BACKEND_VARIABLE = "TAMARCO_HARNESS_BACKEND"
CHOICES = ("auto", "local", "docker")
DOCKER_EXTRA_HINT = "pip install 'tamarco-harness[docker]'"


def check_docker() -> None:
    """Return if a Docker engine answers a ping within 2 s, else raise DockerUnavailableError."""
    try:
        import docker
        import docker.errors
    except ImportError as exc:
        raise DockerUnavailableError(
            f"the docker backend needs the docker and testcontainers packages: {DOCKER_EXTRA_HINT}"
        ) from exc
    import requests.exceptions

    try:
        docker.from_env(timeout=2).ping()
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


def docker_available() -> bool:
    try:
        check_docker()
    except DockerUnavailableError:
        return False
    return True


def resolve_backend(requested: str | None = None, *, default: str | None = None) -> str:
    """``"local"`` or ``"docker"``: from ``requested``, else the environment, else ``default``
    (the pytest ini option ``harness_backend``), else ``auto``.

    ``docker`` when requested but unavailable raises :class:`DockerUnavailableError` (no
    silent fallback); ``auto`` picks docker only when an engine answers.
    """
    choice = (requested or os.environ.get(BACKEND_VARIABLE) or default or "auto").strip().lower()
    if choice not in CHOICES:
        raise HarnessError(f"{BACKEND_VARIABLE}={choice!r} is not one of {', '.join(CHOICES)}")
    if choice == "docker":
        check_docker()
        return "docker"
    if choice == "auto":
        return "docker" if docker_available() else "local"
    return "local"
