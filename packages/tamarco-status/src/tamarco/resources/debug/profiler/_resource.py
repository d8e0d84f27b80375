"""The profiler resource. See ``docs/status.md`` for its settings."""

from __future__ import annotations

import asyncio
import io
import marshal
import time
from typing import TYPE_CHECKING, Any, ClassVar

from tamarco.resources.debug._periodic_report import PeriodicReportResource, Report

if TYPE_CHECKING:
    import cProfile

__all__ = ["ProfilerResource"]


class _FrozenStats:
    """What :class:`pstats.Stats` needs from a profiler: a copy of its statistics."""

    def __init__(self, stats: dict[Any, Any]) -> None:
        self.stats = stats

    def create_stats(self) -> None:
        """Already created."""


class ProfilerResource(PeriodicReportResource):
    """Profiles the service (cProfile) from its start, for the services listed in
    ``system.resources.profiler.microservices_with_profiler`` (or ``enabled: true``).

    Every ``interval_seconds`` the cumulative statistics since the profiler started, sorted by
    cumulative time (``top`` lines), replace the content of ``file``. ``GET /debug/profile``
    serves the latest report as text; ``GET /debug/profile?format=pstats`` serves it in the
    binary format of :mod:`pstats` (``python -m pstats``, snakeviz).
    """

    enable_setting: ClassVar[str] = "microservices_with_profiler"
    path: ClassVar[str] = "/debug/profile"
    default_file: ClassVar[str] = "<service>_profile"
    default_top: ClassVar[int] = 100
    loggers_names: ClassVar[tuple[str, ...]] = ("tamarco.profiler",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.profile: cProfile.Profile | None = None
        self._started_at = 0.0

    async def _enable(self) -> None:
        import cProfile  # here: a service without the profiler enabled does not import it

        profile = cProfile.Profile()
        try:
            profile.enable()
        except ValueError as error:  # another profiler is active (Python >= 3.12)
            raise RuntimeError(f"{self.name}: cannot start cProfile: {error}") from error
        self.profile = profile
        self._started_at = time.time()

    async def _disable(self) -> None:
        if self.profile is not None:
            self.profile.disable()
            self.profile = None

    async def _take_report(self) -> Report:
        profile = self.profile
        stats: dict[Any, Any] = {}
        if profile is not None:
            profile.create_stats()  # disables the profiler: the counts stay, enable() resumes
            stats = dict(profile.stats)  # type: ignore[attr-defined]
            profile.enable()
        taken_at = time.time()
        header = (
            f"# service: {self.microservice.name if self.microservice else '?'}\n"
            f"# cumulative cProfile statistics from {_iso(self._started_at)} to {_iso(taken_at)}\n"
        )
        text, binary = await asyncio.to_thread(_render, stats, self.top, header)
        return Report(text, taken_at, formats={"pstats": (binary, "application/octet-stream")})


def _render(stats: dict[Any, Any], top: int, header: str) -> tuple[str, bytes]:
    import pstats

    stream = io.StringIO()
    stream.write(header)
    if stats:
        pstats.Stats(_FrozenStats(stats), stream=stream).sort_stats("cumulative").print_stats(top)  # type: ignore[arg-type]
    else:
        stream.write("# no calls recorded yet\n")
    return stream.getvalue(), marshal.dumps(stats)


def _iso(timestamp: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(timestamp))
