"""Configure the standard library's logging from ``system.logging``.

Tamarco only configures loggers; code logs with the standard ``logging`` module. The loggers
configured are the service's (named after the service), ``tamarco`` (the framework and its
resources), the service's ``extra_loggers_names`` and the resources' ``loggers_names``. Each
gets the level of the profile, ``propagate = False`` and one handler per enabled output:
stdout, a rotating file, Logstash over UDP, Redis and HTTP (see ``docs/logging.md``).

Before the settings are loaded a provisional stdout configuration is in place, so errors while
loading settings are visible. :meth:`Logging.reconfigure` re-reads the settings and rebuilds
only the outputs whose settings changed; the microservice calls it whenever a key under
``system.logging`` changes, which makes every logging setting live.
"""

from __future__ import annotations

import asyncio
import logging
import logging.handlers
import sys
from collections.abc import Iterable
from typing import Any

from tamarco.core.logging._dispatch import DISPATCHER
from tamarco.core.logging.config import (
    DEFAULT_PROFILE,
    PROFILES,
    FileConfig,
    HTTPConfig,
    LoggingConfig,
    LoggingSettingsError,
    LogstashUDPConfig,
    RedisConfig,
    StdoutConfig,
    parse_logging_settings,
)
from tamarco.core.logging.formatters import (
    HumanFormatter,
    JSONLinesFormatter,
    LogstashFormatter,
    host_name,
    use_color,
)
from tamarco.core.logging.handlers import FileOutputHandler, RedactingFilter, StdoutHandler
from tamarco.core.logging.queued import BatchingQueuedHandler, HandlerStatistics, QueuedHandler
from tamarco.core.redaction import Redactor
from tamarco.core.settings.settings import SettingsView
from tamarco.core.tracing import TRACE_FIELDS_FILTER

__all__ = [
    "DEFAULT_PROFILE",
    "PROFILES",
    "FileOutputHandler",
    "Logging",
    "LoggingSettingsError",
    "RedactingFilter",
    "StdoutHandler",
]

logger = logging.getLogger("tamarco.logging")

OutputConfig = Any  # one of the *Config dataclasses


class Logging:
    """Owns the handlers Tamarco installs on the configured loggers.

    One instance per microservice; nothing is global except the loggers themselves. Every
    record reaching them has its secrets masked by ``redactor`` (the microservice's, which
    knows the secret values of its settings).
    """

    def __init__(self, redactor: Redactor | None = None) -> None:
        self.redactor = redactor if redactor is not None else Redactor()
        self.redacting_filter = RedactingFilter(self.redactor)
        self.settings: SettingsView | None = None
        self.loggers_names: list[str] = []
        self.microservice_name: str | None = None
        self.deploy_name: str | None = None
        self.instance_id: str | None = None
        self.config: LoggingConfig | None = None
        self.level = PROFILES[DEFAULT_PROFILE]
        #: Third-party loggers (aio-pika, aiokafka...) and the lowest level they log at: their
        #: records go through the same outputs, without their DEBUG/INFO chatter.
        self.library_levels: dict[str, int] = {}
        #: output name ("stdout", "file", "logstash", "redis", "http") -> (key, handler)
        self._outputs: dict[str, tuple[Any, logging.Handler]] = {}
        self._attached: dict[str, list[logging.Handler]] = {}
        #: ``{logger name: (level, propagate, had the dispatcher)}`` as found, given back at stop.
        self._saved: dict[str, tuple[int, bool, bool]] = {}
        self._lock: asyncio.Lock | None = None
        self._closing: set[asyncio.Task[None]] = set()

    @property
    def handlers(self) -> list[logging.Handler]:
        """The handlers currently installed (one per enabled output)."""
        return [handler for _, handler in self._outputs.values()]

    @staticmethod
    def describe_static_settings() -> dict[str, str]:
        """Every ``system.logging`` setting and what it does."""
        return {
            "profile": "DEVELOP (debug level) or PRODUCTION (info level); default PRODUCTION",
            "stdout": "log to stdout (default true)",
            "stdout_format": "human (default) or json (one JSON object per line)",
            "stdout_color": "auto (default: only on a TTY, not with NO_COLOR), true or false",
            "file_path": "log to this file with a rotating handler",
            "file_max_bytes": "rotate the file at this size (default 10 MiB; 0: never)",
            "file_backup_count": "rotated files kept (default 5)",
            "file_format": "human (default) or json",
            "logstash": "UDP JSON datagrams: enabled, host, port, version (0/1), fqdn, queue_size",
            "redis": "Redis list or channel: enabled, host, port, db, password, ssl, key, "
            "data_type (list/channel), timeout_seconds, version, fqdn, queue_size",
            "http": "HTTP POST of JSON batches: enabled, url, user, password, max_records, "
            "max_time_seconds, timeout_seconds, version, fqdn, queue_size",
            "flush_timeout_seconds": "at stop, how long queued records may take to be sent (default 5)",
        }

    @staticmethod
    def describe_dynamic_settings() -> dict[str, str]:
        """Settings applied without a restart: all of them."""
        return {
            key: "applied live: only the outputs whose settings changed are rebuilt"
            for key in Logging.describe_static_settings()
        }

    def configure_settings(self, settings: SettingsView) -> None:
        """Set the settings view (``system.logging``)."""
        self.settings = settings

    def configure_provisional(self, loggers: Iterable[str]) -> None:
        """Stdout at info level until the real settings are read."""
        self.loggers_names = _unique(loggers)
        handler = StdoutHandler()
        handler.setFormatter(HumanFormatter(color=use_color(sys.stdout, None)))
        old = self._outputs
        self._outputs = {"stdout": (("provisional",), handler)}
        self.level = logging.INFO
        self._attach()
        for _, old_handler in old.values():
            if not isinstance(old_handler, QueuedHandler):
                old_handler.close()

    async def start(
        self,
        loggers: Iterable[str],
        microservice_name: str,
        deploy_name: str | None,
        loop: Any = None,
        *,
        instance_id: str | None = None,
    ) -> None:
        """Configure the loggers from the settings.

        Raises :class:`LoggingSettingsError` naming the setting when one is invalid.
        ``loop`` is accepted for 0.1 compatibility and ignored (the running loop is used).
        """
        self.loggers_names = _unique(loggers)
        self.microservice_name = microservice_name
        self.deploy_name = deploy_name
        self.instance_id = instance_id
        await self.reconfigure()

    async def reconfigure(self) -> None:
        """Re-read ``system.logging`` and apply it.

        Settings are checked first: on a bad value :class:`LoggingSettingsError` is raised
        and the current configuration stays. Outputs whose settings did not change keep their
        handler (and its queue); the others are built, swapped in, then the old ones flushed.
        """
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            tree = await self.settings.get(None, {}) if self.settings is not None else {}
            config = parse_logging_settings(tree)
            wanted: dict[str, OutputConfig] = {
                name: value
                for name, value in (
                    ("stdout", config.stdout),
                    ("file", config.file),
                    ("logstash", config.logstash),
                    ("redis", config.redis),
                    ("http", config.http),
                )
                if value is not None
            }
            identity = (self.microservice_name, self.deploy_name, self.instance_id)
            outputs: dict[str, tuple[Any, logging.Handler]] = {}
            built: list[logging.Handler] = []
            try:
                for name, output in wanted.items():
                    key = (output, identity)
                    current = self._outputs.get(name)
                    if current is not None and current[0] == key:
                        outputs[name] = current
                        continue
                    handler = await self._build(name, output)
                    built.append(handler)
                    outputs[name] = (key, handler)
            except BaseException:
                for handler in built:
                    await _close_handler(handler, 0)
                raise
            replaced = [h for k, h in self._outputs.values() if all(h is not o for _, o in outputs.values())]
            changed = sorted(name for name in outputs if outputs[name] is not self._outputs.get(name))
            removed = sorted(set(self._outputs) - set(outputs))
            self._outputs = outputs
            self.config = config
            self.level = config.level
            for handler in built:
                if isinstance(handler, QueuedHandler):
                    handler.start()
            self._attach()
            for handler in replaced:
                self._close_later(handler, config.flush_timeout_seconds)
            if changed or removed:
                logger.debug(
                    "logging configured: profile %s, outputs %s (new: %s, removed: %s)",
                    config.profile,
                    ", ".join(outputs) or "none",
                    ", ".join(changed) or "none",
                    ", ".join(removed) or "none",
                )

    async def _build(self, name: str, output: OutputConfig) -> logging.Handler:
        if isinstance(output, StdoutConfig):
            handler: logging.Handler = StdoutHandler()
            handler.setFormatter(self._line_formatter(output.format, use_color(sys.stdout, output.color)))
            return handler
        if isinstance(output, FileConfig):
            try:
                handler = FileOutputHandler(
                    output.path, maxBytes=output.max_bytes, backupCount=output.backup_count, encoding="utf-8"
                )
            except OSError as error:
                raise LoggingSettingsError(
                    f"setting system.logging.file_path: cannot open {output.path!r} ({error.strerror or error})"
                ) from error
            handler.setFormatter(self._line_formatter(output.format, False))
            return handler
        # The network outputs' transports are imported by a service that enables one.
        from tamarco.core.logging.transports import HTTPTransport, RedisTransport, UDPTransport

        queued: QueuedHandler
        if isinstance(output, LogstashUDPConfig):
            queued = QueuedHandler(name, UDPTransport(output.host, output.port), queue_size=output.queue_size)
        elif isinstance(output, RedisConfig):
            transport = RedisTransport(
                output.host,
                output.port,
                key=output.key,
                data_type=output.data_type,
                password=output.password,
                ssl=output.ssl,
                db=output.db,
                timeout=output.timeout_seconds,
            )
            queued = QueuedHandler(name, transport, queue_size=output.queue_size)
        elif isinstance(output, HTTPConfig):
            queued = BatchingQueuedHandler(
                name,
                HTTPTransport(output.url, user=output.user, password=output.password, timeout=output.timeout_seconds),
                queue_size=output.queue_size,
                max_records=output.max_records,
                max_time_seconds=output.max_time_seconds,
            )
        else:  # pragma: no cover - parse_logging_settings only makes the ones above
            raise TypeError(f"unknown logging output {output!r}")
        host = await asyncio.get_running_loop().run_in_executor(None, host_name, output.fqdn)
        queued.setFormatter(
            LogstashFormatter(
                self.microservice_name,
                self.deploy_name,
                version=output.version,
                message_type=output.message_type,
                instance_id=self.instance_id,
                host=host,
            )
        )
        return queued

    def _line_formatter(self, kind: str, color: bool) -> logging.Formatter:
        if kind == "json":
            return JSONLinesFormatter(self.microservice_name, self.deploy_name, instance_id=self.instance_id)
        return HumanFormatter(color=color)

    @staticmethod
    def profile_level(profile: Any) -> int:
        """The level of ``profile``; :class:`LoggingSettingsError` naming the allowed values."""
        if profile not in PROFILES:
            raise LoggingSettingsError(
                f"setting system.logging.profile is {profile!r}; allowed values: {', '.join(PROFILES)}"
            )
        return PROFILES[profile]

    def statistics(self) -> dict[str, HandlerStatistics]:
        """Queue and delivery counters of each network output (``logstash``, ``redis``, ``http``)."""
        return {
            name: handler.statistics()
            for name, (_, handler) in self._outputs.items()
            if isinstance(handler, QueuedHandler)
        }

    def _close_later(self, handler: logging.Handler, timeout: float) -> None:
        """Flush and close a replaced handler in the background: a live change must not wait
        for an old endpoint that may be down (``stop()`` waits for these)."""
        task = asyncio.get_running_loop().create_task(
            _close_handler(handler, timeout), name=f"tamarco:logging:close:{handler.name}"
        )
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def stop(self) -> None:
        """Flush the network outputs (up to ``flush_timeout_seconds``, all at once), remove every
        handler Tamarco installed and give the loggers back their previous level and propagation
        (and the capture dispatcher, when another service configured them first)."""
        timeout = self.config.flush_timeout_seconds if self.config is not None else 5.0
        network = {n: o for n, o in self._outputs.items() if isinstance(o[1], QueuedHandler)}
        if network:
            # Detach first so drop reports and flush errors still reach stdout and the file.
            self._outputs = {n: o for n, o in self._outputs.items() if n not in network}
            self._attach()
        closing = [*self._closing, *(_close_handler(h, timeout) for _, h in network.values())]
        if closing:
            await asyncio.gather(*closing, return_exceptions=True)
        files = {n: o for n, o in self._outputs.items() if isinstance(o[1], FileOutputHandler)}
        if files:
            # Closed while stdout is still attached: its final report of write errors shows there.
            self._outputs = {n: o for n, o in self._outputs.items() if n not in files}
            self._attach()
            for _, handler in files.values():
                await _close_handler(handler, timeout)
        others = [handler for _, handler in self._outputs.values()]
        self._outputs = {}
        self._detach_all()
        for handler in others:
            await _close_handler(handler, timeout)

    # -- attaching handlers to loggers ---------------------------------------------------

    def _attach(self) -> None:
        handlers = [handler for _, handler in self._outputs.values()]
        for name in set(self._attached) - set(self.loggers_names):
            self._detach(name)
        for name in self.loggers_names:
            target = logging.getLogger(name)
            if name not in self._saved:
                self._saved[name] = (target.level, target.propagate, DISPATCHER in target.handlers)
            for handler in self._attached.get(name, []):
                if all(handler is not h for h in handlers):
                    target.removeHandler(handler)
            for handler in handlers:
                handler.addFilter(self.redacting_filter)  # no-op when already there
                handler.addFilter(TRACE_FIELDS_FILTER)  # trace_id, span_id inside a span
                target.addHandler(handler)  # no-op when already there
            target.addHandler(DISPATCHER)
            target.setLevel(max(self.level, self.library_levels.get(name, logging.NOTSET)))
            target.propagate = False
            self._attached[name] = handlers

    def _detach(self, name: str) -> None:
        target = logging.getLogger(name)
        for handler in self._attached.pop(name, []):
            target.removeHandler(handler)
        level, propagate, had_dispatcher = self._saved.pop(name, (logging.NOTSET, True, False))
        if not had_dispatcher:  # another service configured it first and still runs
            target.removeHandler(DISPATCHER)
        target.setLevel(level)
        target.propagate = propagate

    def _detach_all(self) -> None:
        for name in list(self._attached):
            self._detach(name)


async def _close_handler(handler: logging.Handler, timeout: float) -> None:
    """Flush and close ``handler``; an I/O error (a full disk, a closed pipe) is logged, not
    raised: stopping the logging must not turn a clean stop into a failure."""
    if isinstance(handler, QueuedHandler):
        await handler.aclose(timeout)
        return
    try:
        try:
            handler.flush()
        finally:
            handler.close()
    except (OSError, ValueError) as error:
        logger.debug("closing logging handler %s: %s: %s", handler.name, type(error).__name__, error)


def _unique(names: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(names))
