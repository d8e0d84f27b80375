"""What the profiler and the memory analyzer share: enabled per service by a settings list,
a periodic report written atomically to a file, and an endpoint on the report server that
serves the latest report.

A disabled debug resource costs nothing: no profiler or tracemalloc, no task; it only answers
its endpoint with a 404 that says how to enable it, and reports STARTED with
``"enabled": false``. The enabling list is a live setting, so a running service can be
profiled without a restart.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from pathlib import Path
from typing import Any, ClassVar

from tamarco.core.report_server import ReportRequest, ReportResponse, ReportServer, find_report_server
from tamarco.core.settings.reader import SettingsReader
from tamarco.core.settings.settings import SettingsView
from tamarco.resources.bases import BaseResource, StatusCodes
from tamarco.resources.basic.status._errors import StatusSettingsError

__all__ = ["PeriodicReportResource", "Report"]


class Report:
    """One report: the text written to the file, served as the endpoint's body; other
    formats (``?format=<name>``) as ``{name: (body, content type)}``."""

    def __init__(
        self,
        text: str,
        taken_at: float,
        content_type: str = "text/plain",
        formats: dict[str, tuple[bytes, str]] | None = None,
    ) -> None:
        self.text = text
        self.taken_at = taken_at
        self.content_type = content_type
        self.formats = formats or {}


class PeriodicReportResource(BaseResource):
    """Base of the debug resources. Subclasses implement ``_enable``, ``_disable`` and
    ``_take_report``."""

    depends_on: ClassVar[tuple[str | type, ...]] = (ReportServer,)
    #: Setting listing the services it is enabled for (0.1 name), and the endpoint path.
    enable_setting: ClassVar[str]
    path: ClassVar[str]
    #: Default file name, in the temp dir: ``<service>`` is replaced by the service name.
    default_file: ClassVar[str]
    default_interval_seconds: ClassVar[float] = 30.0
    #: The settings applied while the service runs; a subclass's are its ``enable_setting``
    #: followed by these (set by ``__init_subclass__``).
    live_settings: ClassVar[tuple[str, ...]] = ("enabled", "interval_seconds", "file", "top")
    default_top: ClassVar[int] = 50
    kind: ClassVar[str] = "debug report"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "enable_setting" in cls.__dict__ and "live_settings" not in cls.__dict__:
            cls.live_settings = (cls.enable_setting, *PeriodicReportResource.live_settings)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.enabled = False
        self.interval_seconds = self.default_interval_seconds
        self.file: Path | None = None
        self.top = self.default_top
        self.reports_written = 0
        self.latest: Report | None = None
        self._task: asyncio.Task[None] | None = None
        self._lock: asyncio.Lock | None = None
        self._routes_added = False
        self._no_report_server_logged = False

    # -- settings -----------------------------------------------------------------------------

    async def check_settings(self) -> None:
        """Read and check the settings (every wrong one reported at once, with the other
        resources' wrong settings, before any resource starts)."""
        self._read_settings()

    def _read_settings(self) -> None:
        settings = self._settings()
        service = str(self.microservice.name if self.microservice else "")
        services = settings.get_nowait(self.enable_setting, [])
        key = settings.full_key(self.enable_setting)
        if isinstance(services, str):
            services = [services]
        read = SettingsReader.of(settings, error=StatusSettingsError)
        if not isinstance(services, (list, tuple)) or not all(isinstance(s, str) for s in services):
            with read.each():
                raise StatusSettingsError(f"setting {key} must be a list of service names or 'all', got {services!r}")
            services = []
        enabled: bool | None = None
        interval, top, file = self.default_interval_seconds, self.default_top, None
        with read.each():
            enabled = read.boolean("enabled", False) if settings.get_nowait("enabled", None) is not None else None
        with read.each():
            interval = read.seconds("interval_seconds", self.default_interval_seconds)
        with read.each():
            top = read.whole("top", self.default_top, minimum=1)
        with read.each():
            file = read.optional_text("file")
        read.raise_problems()
        self.enabled = enabled if enabled is not None else (service in services or "all" in services)
        self.interval_seconds, self.top = interval, top
        default = Path(tempfile.gettempdir()) / self.default_file.replace("<service>", service)
        self.file = Path(file) if file else default

    async def apply_settings(self, changes: dict[str, Any]) -> None:
        """Enable, disable or reconfigure while the service runs."""
        was_enabled = self.enabled
        try:
            self._read_settings()
        except StatusSettingsError as error:
            self.logger.error("%s settings not applied: %s", self.name, error)
            return
        if was_enabled and not self.enabled:
            await self._turn_off()
            self.logger.info("%s disabled", self.name)
        elif self.enabled and not was_enabled and self.status_code == StatusCodes.STARTED:
            await self._turn_on()
            self.logger.info("%s enabled: writing %s every %g s", self.name, self.file, self.interval_seconds)

    # -- lifecycle ----------------------------------------------------------------------------

    async def pre_start(self) -> None:
        if self._routes_added or self.microservice is None:
            return
        server = find_report_server(self.microservice)
        if server is None:
            if not self._no_report_server_logged:
                self._no_report_server_logged = True
                self.logger.warning(
                    "%s: service %s has no report server (no resource implementing "
                    "tamarco.core.report_server.ReportServer): %s is not served; the reports are "
                    "still written to the file when enabled",
                    self.name,
                    self.microservice.name,
                    self.path,
                )
            return
        server.add_route("GET", self.path, self.handle_report)
        self._routes_added = True

    async def start(self) -> None:
        if self.enabled:
            self._check_file_writable()
            await self._turn_on()
            self.logger.info("%s enabled: writing %s every %g s", self.name, self.file, self.interval_seconds)
        await super().start()

    async def stop(self) -> None:
        await self._turn_off()
        await super().stop()

    async def post_stop(self) -> None:
        self._routes_added = False

    async def status(self) -> dict[str, Any]:
        info = await super().status()
        info["enabled"] = self.enabled
        if self.enabled:
            info["file"] = str(self.file)
            info["interval_seconds"] = self.interval_seconds
            info["reports_written"] = self.reports_written
            if self.latest is not None:
                info["latest_report_at"] = self.latest.taken_at
        return info

    async def _turn_on(self) -> None:
        if self._task is not None:
            return
        self._lock = asyncio.Lock()
        await self._enable()
        self._task = asyncio.get_running_loop().create_task(self._write_periodically(), name=f"tamarco:{self.name}")

    async def _turn_off(self) -> None:
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        self.latest = None  # a report from before a disable must not be served after a re-enable
        await self._disable()

    # -- reports ------------------------------------------------------------------------------

    async def _write_periodically(self) -> None:
        while True:
            await asyncio.sleep(self.interval_seconds)
            await self.write_report()

    async def write_report(self) -> Report:
        """Take a report now, keep it as the latest and write it to the file."""
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            report = await self._take_report()
            self.latest = report
            try:
                await asyncio.to_thread(_write_atomically, self._file(), report.text)
            except OSError as error:
                self.set_status(StatusCodes.FAILED, f"cannot write {self.file} ({self._file_key()}): {error}")
                self.logger.error("%s: cannot write %s (setting %s): %s", self.name, self.file, self._file_key(), error)
            else:
                self.reports_written += 1
                if self.status_code == StatusCodes.FAILED:
                    self.set_status(StatusCodes.STARTED)
            return report

    async def handle_report(self, request: ReportRequest) -> ReportResponse:
        if not self.enabled or self._task is None:
            service = self.microservice.name if self.microservice else "?"
            return ReportResponse.json(
                {
                    "error": f"{self.name} is disabled for service {service}",
                    "enable_with": self._settings().full_key(self.enable_setting),
                },
                status=404,
            )
        report = self.latest or await self.write_report()
        wanted = request.query.get("format")
        if wanted:
            if wanted not in report.formats:
                known = ", ".join(sorted(report.formats)) or "none"
                return ReportResponse.json({"error": f"unknown format {wanted!r} (formats: {known})"}, status=400)
            body, content_type = report.formats[wanted]
            return ReportResponse(body, content_type=content_type)
        return ReportResponse.text(report.text, content_type=report.content_type)

    # -- for subclasses -----------------------------------------------------------------------

    async def _enable(self) -> None:
        """Start collecting (profiler, tracemalloc)."""

    async def _disable(self) -> None:
        """Stop collecting and drop what was collected."""

    async def _take_report(self) -> Report:
        raise NotImplementedError

    # -- helpers ------------------------------------------------------------------------------

    def _file(self) -> Path:
        if self.file is None:
            raise RuntimeError(f"resource {self.name} has no settings yet")
        return self.file

    def _file_key(self) -> str:
        return self._settings().full_key("file")

    def _check_file_writable(self) -> None:
        directory = self._file().parent
        if not directory.is_dir() or not os.access(directory, os.W_OK):
            raise StatusSettingsError(
                f"setting {self._file_key()}: cannot write {self.file}: directory {directory} "
                "does not exist or is not writable"
            )

    def _settings(self) -> SettingsView:
        if self.settings is None:
            raise RuntimeError(f"resource {self.name} has no settings yet")
        return self.settings


def _write_atomically(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` so readers never see half a report."""
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def now() -> float:
    """Wall-clock time of a report (seconds since the epoch)."""
    return time.time()
