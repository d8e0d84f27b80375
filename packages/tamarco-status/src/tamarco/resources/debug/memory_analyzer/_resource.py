"""The memory analyzer resource. See ``docs/status.md`` for its settings."""

from __future__ import annotations

import asyncio
import collections
import gc
import json
import time
from typing import TYPE_CHECKING, Any, ClassVar

from tamarco.resources.basic.status._errors import StatusSettingsError
from tamarco.resources.debug._periodic_report import PeriodicReportResource, Report

if TYPE_CHECKING:
    import tracemalloc

__all__ = ["MemoryAnalyzerResource"]

#: Allocation sites left out of the reports: the import machinery and tracemalloc itself
#: (filtering the grouped sites is much cheaper than ``Snapshot.filter_traces``).
_NOISE_FILES = frozenset({"<frozen importlib._bootstrap>", "<frozen importlib._bootstrap_external>", "<unknown>"})

#: ``{(file, line): (size in bytes, count)}`` of the live allocations of one report.
SiteStats = dict[tuple[str, int], tuple[int, int]]


class MemoryAnalyzerResource(PeriodicReportResource):
    """Finds what allocates and what grows, for the services listed in
    ``system.resources.memory_analyzer.microservices_with_memory_analyzer`` (or
    ``enabled: true``).

    While enabled, :mod:`tracemalloc` traces allocations (``traceback_frames`` frames each).
    Every ``interval_seconds`` a JSON report replaces the content of ``file``: the traced
    memory, the ``top`` allocation sites, the sites that grew most since the previous report,
    and the object types whose live count (from :func:`gc.get_objects`) grew most.
    ``GET /debug/memory`` serves the latest report.
    """

    enable_setting: ClassVar[str] = "microservices_with_memory_analyzer"
    path: ClassVar[str] = "/debug/memory"
    default_file: ClassVar[str] = "<service>_memory.json"
    default_top: ClassVar[int] = 25
    loggers_names: ClassVar[tuple[str, ...]] = ("tamarco.memory_analyzer",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.traceback_frames = 1
        self._started_tracing = False
        self._previous_sites: SiteStats | None = None
        self._previous_types: collections.Counter[str] = collections.Counter()

    def _read_settings(self) -> None:
        super()._read_settings()
        settings = self._settings()
        frames = settings.get_nowait("traceback_frames", 1)
        if isinstance(frames, bool) or not isinstance(frames, int) or frames < 1:
            raise StatusSettingsError(
                f"setting {settings.full_key('traceback_frames')} must be a positive integer, got {frames!r}"
            )
        self.traceback_frames = frames

    async def _enable(self) -> None:
        import tracemalloc  # here: imported by a service that enables the analyzer only

        if not tracemalloc.is_tracing():
            tracemalloc.start(self.traceback_frames)
            self._started_tracing = True
        self._previous_sites = None
        self._previous_types = await asyncio.to_thread(_count_types)

    async def _disable(self) -> None:
        if self._started_tracing:
            import tracemalloc

            tracemalloc.stop()  # frees the traces
            self._started_tracing = False
        self._previous_sites = None
        self._previous_types = collections.Counter()

    async def _take_report(self) -> Report:
        import tracemalloc

        taken_at = time.time()
        current, peak = tracemalloc.get_traced_memory()
        snapshot = await asyncio.to_thread(tracemalloc.take_snapshot) if tracemalloc.is_tracing() else None
        types = await asyncio.to_thread(_count_types)
        body, sites = await asyncio.to_thread(
            _analyse, snapshot, self._previous_sites, types, self._previous_types, self.top
        )
        body = {
            "microservice": self.microservice.name if self.microservice else None,
            "taken_at": taken_at,
            "traced_memory_bytes": {"current": current, "peak": peak},
            **body,
        }
        self._previous_sites = sites
        self._previous_types = types
        text = json.dumps(body, indent=2)
        return Report(text, taken_at, content_type="application/json")


def _count_types() -> collections.Counter[str]:
    return collections.Counter(type(obj).__qualname__ for obj in gc.get_objects())


def _analyse(
    snapshot: tracemalloc.Snapshot | None,
    previous: SiteStats | None,
    types: collections.Counter[str],
    previous_types: collections.Counter[str],
    top: int,
) -> tuple[dict[str, Any], SiteStats | None]:
    """The report body, and the per-site statistics to compare the next report with.

    The growth is computed from the previous statistics rather than with
    ``Snapshot.compare_to``, which would group the traces of both snapshots again (the
    grouping is most of the cost: about a second per 300k live allocations).
    """
    result: dict[str, Any] = {"top_allocations": [], "allocation_growth": []}
    sites: SiteStats | None = None
    if snapshot is not None:
        import tracemalloc

        sites = {}
        noise = _NOISE_FILES | {tracemalloc.__file__}
        for stat in snapshot.statistics("lineno"):
            frame = stat.traceback[0]
            if frame.filename not in noise:
                sites[(frame.filename, frame.lineno)] = (stat.size, stat.count)
        ranked = list(sites.items())  # statistics() is sorted by size, biggest first
        result["top_allocations"] = [
            {"file": file, "line": line, "size_bytes": size, "count": count}
            for (file, line), (size, count) in ranked[:top]
        ]
        if previous is not None:
            growth = []
            for site, (size, count) in ranked:
                old_size, old_count = previous.get(site, (0, 0))
                if size > old_size:
                    growth.append((size - old_size, count - old_count, site, size, count))
            growth.sort(key=lambda item: item[0], reverse=True)
            result["allocation_growth"] = [
                {
                    "file": file,
                    "line": line,
                    "size_bytes": size,
                    "size_diff_bytes": size_diff,
                    "count": count,
                    "count_diff": count_diff,
                }
                for size_diff, count_diff, (file, line), size, count in growth[:top]
            ]
    grown = sorted(
        ((name, count, count - previous_types.get(name, 0)) for name, count in types.items()),
        key=lambda item: item[2],
        reverse=True,
    )
    result["object_type_growth"] = [
        {"type": name, "count": count, "growth": growth} for name, count, growth in grown[:top] if growth > 0
    ]
    result["object_types"] = [{"type": name, "count": count} for name, count in types.most_common(top)]
    return result, sites
