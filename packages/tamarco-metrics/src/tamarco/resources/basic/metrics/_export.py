"""What the exporters read: the families a service exports, merged from its scopes.

A service exports its own scope and the process-wide one. When both hold a meter of the same
name and labels (a name first created in the service, later outside any service), the
service's own meter wins and the process-wide duplicate is left out.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from tamarco.resources.basic.metrics._meters import BaseMeter
from tamarco.resources.basic.metrics._naming import labels_key
from tamarco.resources.basic.metrics._scope import MeterScope

__all__ = ["ExportedFamily", "exported_families"]

logger = logging.getLogger("tamarco.metrics")


@dataclass
class ExportedFamily:
    """One meter name as exported: its type, unit and the meters (one per label set)."""

    name: str
    meter_type: str
    unit: str
    meters: list[BaseMeter]


def exported_families(scopes: Sequence[MeterScope]) -> list[ExportedFamily]:
    """The families of ``scopes`` (first scope wins on duplicates), sorted by name, after
    running the scopes' collect hooks.

    A meter without labels that still holds its initial value is left out when its family
    has labelled meters: it was only the template of its ``new_labels`` children.
    """
    merged: dict[str, ExportedFamily] = {}
    seen: dict[str, set[tuple[tuple[str, str], ...]]] = {}
    for scope in scopes:
        scope.run_collect_hooks()
    for scope in scopes:
        for family, meters in scope.snapshot():
            exported = merged.get(family.name)
            if exported is None:
                meter_type = family.meter_type.meter_type
                merged[family.name] = ExportedFamily(family.name, meter_type, family.unit, list(meters))
                seen[family.name] = {labels_key(meter.labels) for meter in meters}
                continue
            if exported.meter_type != family.meter_type.meter_type or exported.unit != family.unit:
                logger.warning(
                    "meter %r of scope %s conflicts with the one already exported; left out", family.name, scope
                )
                continue
            keys = seen[family.name]
            for meter in meters:
                key = labels_key(meter.labels)
                if key not in keys:
                    keys.add(key)
                    exported.meters.append(meter)
    result = []
    for name in sorted(merged):
        exported = merged[name]
        if len(exported.meters) > 1:
            exported.meters = [meter for meter in exported.meters if meter.labels or not meter.is_pristine()]
        result.append(exported)
    return result
