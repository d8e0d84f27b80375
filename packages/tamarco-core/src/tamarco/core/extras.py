"""Optional dependencies of tamarco-core and the extra that installs each.

tamarco-core alone needs only PyYAML. etcd (aetcd, grpcio), the Redis log output (redis), the
HTTP log output (aiohttp) and ``tamarco start_project`` (cookiecutter) are extras, imported only
where they are used; a missing one is a :class:`MissingExtraError` that names the extra to
install. The meta-package ``tamarco`` installs them all.
"""

from __future__ import annotations

__all__ = ["EXTRA_OF_MODULE", "MissingExtraError", "missing_extra"]

#: The top-level module of each optional dependency, and the tamarco-core extra providing it.
EXTRA_OF_MODULE = {
    "aetcd": "etcd",
    "grpc": "etcd",
    "redis": "redis",
    "aiohttp": "logging-http",
    "cookiecutter": "scaffold",
    "opentelemetry": "tracing",
    "pydantic": "pydantic",
}


class MissingExtraError(ImportError):
    """A feature was used whose optional dependency is not installed; the message says which extra."""


def missing_extra(error: ImportError, feature: str) -> ImportError:
    """A :class:`MissingExtraError` for ``feature`` when ``error`` is a missing optional dependency.

    Any other import error is returned unchanged (raise the result ``from error``).
    """
    module = (getattr(error, "name", None) or "").partition(".")[0]
    extra = EXTRA_OF_MODULE.get(module)
    if not isinstance(error, ModuleNotFoundError) or extra is None:
        return error
    return MissingExtraError(
        f"{feature} needs {module}, which is not installed: pip install 'tamarco-core[{extra}]' "
        "(the tamarco meta-package installs every extra)",
        name=module,
    )
