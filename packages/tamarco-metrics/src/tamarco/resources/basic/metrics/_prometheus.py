"""The Prometheus exposition of a service's meters, rendered by prometheus-client.

Each service has its own ``CollectorRegistry`` (never prometheus-client's global one) holding a
:class:`TamarcoCollector`, so two services in one process never export each other's meters.
Values are read at scrape time: ``/metrics`` is always current.

Names: ``<service name>_<meter name>`` (the service name with characters other than letters,
digits and ``_`` replaced by ``_``), then, as prometheus-client does, ``_<unit>`` when the unit
is a Prometheus base unit (``seconds``, ``bytes``...) the name does not already end with, and
``_total`` for counters. Every sample gets the label ``deploy_name`` when
``system.deploy_name`` is set.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString
from tamarco.resources.basic.metrics._export import ExportedFamily, exported_families
from tamarco.resources.basic.metrics._naming import BASE_UNITS
from tamarco.resources.basic.metrics._scope import MeterScope

__all__ = ["TamarcoCollector", "new_registry", "render"]


class TamarcoCollector(Collector):
    """A prometheus-client collector over Tamarco meter scopes."""

    def __init__(self, scopes: Callable[[], Sequence[MeterScope]], prefix: str, deploy_name: str | None = None) -> None:
        self.scopes = scopes
        self.prefix = prefix
        self.deploy_name = deploy_name

    def collect(self) -> Iterable[Metric]:
        for family in exported_families(self.scopes()):
            yield self.family_metric(family)

    def family_metric(self, family: ExportedFamily) -> Metric:
        """One family as a prometheus-client ``Metric`` with its samples."""
        name = f"{self.prefix}_{family.name}" if self.prefix else family.name
        if family.meter_type == "counter" and name.endswith("_total"):
            name = name[: -len("_total")]
        unit = family.unit if family.unit in BASE_UNITS else ""
        documentation = f"{family.name} ({family.unit})" if family.unit else family.name
        metric = Metric(name, documentation, family.meter_type, unit)
        name = metric.name
        deploy_name = self.deploy_name
        add = metric.add_sample
        if family.meter_type == "counter" or family.meter_type == "gauge":
            sample_name = name + "_total" if family.meter_type == "counter" else name
            for meter in family.meters:
                labels = {**meter.labels, "deploy_name": deploy_name} if deploy_name else meter.labels
                add(sample_name, labels, meter._value)  # type: ignore[attr-defined]
        else:
            for meter in family.meters:
                labels = {**meter.labels, "deploy_name": deploy_name} if deploy_name else meter.labels
                count, total, quantiles = meter.snapshot()  # type: ignore[attr-defined]
                for quantile, value in quantiles.items():
                    add(name, {**labels, "quantile": floatToGoString(quantile)}, value)
                add(name + "_count", labels, count)
                add(name + "_sum", labels, total)
        return metric


def new_registry(collector: TamarcoCollector) -> CollectorRegistry:
    """A private registry holding ``collector`` (more collectors can be registered in it)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    return registry


def render(registry: CollectorRegistry, accept: str | None = None) -> tuple[bytes, str]:
    """``(body, content type)`` of the registry, in the format the ``Accept`` header prefers
    (Prometheus text 0.0.4 by default, OpenMetrics when asked)."""
    encoder, content_type = choose_encoder(accept or "")
    return encoder(registry), content_type
