"""Graphite plaintext lines: ``<metric path> <value> <timestamp>``, for carbon, file and stdout.

Paths are ``<prefix>.<meter name>[.<label>_<value>...]`` (labels sorted by name), and for a
summary ``.count``, ``.sum`` and one ``.p<quantile>`` per quantile (``p50``, ``p99``,
``p99_9``). Characters Graphite reads as separators are replaced by ``_``. Samples without
a value (a summary's quantiles over an empty window) are left out: Graphite has no NaN.
"""

from __future__ import annotations

import math
import socket
from collections.abc import Sequence

from tamarco.resources.basic.metrics._export import exported_families
from tamarco.resources.basic.metrics._naming import graphite_component
from tamarco.resources.basic.metrics._scope import MeterScope

__all__ = ["DEFAULT_PREFIX", "graphite_lines", "graphite_prefix", "quantile_suffix"]

#: Default path prefix; empty parts (no deploy name) are dropped.
DEFAULT_PREFIX = "{deploy_name}.{service_name}.{hostname}"


def graphite_prefix(template: str, service_name: str, deploy_name: str | None, hostname: str | None = None) -> str:
    """Fill the prefix template (``{deploy_name}``, ``{service_name}``, ``{hostname}``)."""
    values = {
        "deploy_name": graphite_component(deploy_name) if deploy_name else "",
        "service_name": graphite_component(service_name),
        "hostname": graphite_component(hostname if hostname is not None else socket.gethostname()),
    }
    try:
        filled = template.format(**values)
    except (KeyError, IndexError, ValueError) as error:
        raise ValueError(
            f"invalid metrics prefix {template!r}: use only the placeholders "
            f"{{deploy_name}}, {{service_name}} and {{hostname}} ({error})"
        ) from None
    return ".".join(part for part in filled.split(".") if part)


def quantile_suffix(quantile: float) -> str:
    """``0.5`` → ``p50``, ``0.999`` → ``p99_9``."""
    text = f"{quantile * 100:.6f}".rstrip("0").rstrip(".")
    return "p" + text.replace(".", "_")


def _value(value: float) -> str:
    return str(int(value)) if value.is_integer() and abs(value) < 2**53 else repr(value)


def graphite_lines(scopes: Sequence[MeterScope], prefix: str, timestamp: int) -> list[str]:
    """One line (newline-terminated) per sample of every exported meter."""
    lines: list[str] = []
    stamp = f" {timestamp}\n"
    for family in exported_families(scopes):
        base = f"{prefix}.{family.name}" if prefix else family.name
        for meter in family.meters:
            path = base + "".join(
                f".{graphite_component(label)}_{graphite_component(value)}"
                for label, value in sorted(meter.labels.items())
            )
            if family.meter_type == "summary":
                count, total, quantiles = meter.snapshot()  # type: ignore[attr-defined]
                lines.append(f"{path}.count {count}{stamp}")
                lines.append(f"{path}.sum {_value(float(total))}{stamp}")
                for quantile, value in quantiles.items():
                    if not math.isnan(value):
                        lines.append(f"{path}.{quantile_suffix(quantile)} {_value(value)}{stamp}")
            else:
                value = float(meter._value)  # type: ignore[attr-defined]
                if math.isfinite(value):
                    lines.append(f"{path} {_value(value)}{stamp}")
    return lines
