"""One service's tracing: off and free until ``system.tracing.enabled`` turns it on."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Iterator, Mapping, MutableMapping, Sequence
from typing import TYPE_CHECKING, Any

from tamarco.core.tracing._config import PREFIX, TracingConfig, TracingSettingsError, parse_tracing_settings
from tamarco.core.tracing._noop import NOOP_SPAN, SpanKind

if TYPE_CHECKING:
    from tamarco.core.redaction import Redactor
    from tamarco.core.tracing._sdk import Exporting

__all__ = ["Tracing", "active_services", "current_log_ids"]

logger = logging.getLogger("tamarco.tracing")

#: How many services of this process trace now: log records look the current span up only then.
_active = 0

#: Settle timeout of the stop: the batch's export (bounded by the exporter's own timeout) and
#: the worker's end.
STOP_TIMEOUT = 5.0


def active_services() -> int:
    """How many services of this process have tracing on."""
    return _active


def current_log_ids() -> tuple[str, str] | None:
    """``(trace_id, span_id)`` in hex (as OpenTelemetry writes them) of the span current in this
    context, or None: no service traces, or no span is current."""
    if not _active:
        return None
    from opentelemetry.trace import get_current_span

    context = get_current_span().get_span_context()
    if not context.is_valid:
        return None
    return format(context.trace_id, "032x"), format(context.span_id, "016x")


class Tracing:
    """The tracing of one service (``service.tracing``).

    Off (the default, or without the ``tracing`` extra), :attr:`enabled` is False and every
    method returns the shared no-op span: plugins check :attr:`enabled` once, when they start,
    and install nothing when it is False. On, spans go through this service's own OpenTelemetry
    ``TracerProvider`` (:attr:`tracer` for the user's own spans), exported in batches by a
    background thread to ``<endpoint>/v1/traces``; a handler never waits for the collector.
    """

    def __init__(self) -> None:
        self.enabled = False
        self.config = TracingConfig()
        #: The OpenTelemetry tracer of this service (``None`` while off).
        self.tracer: Any = None
        self._exporting: Exporting | None = None
        self._counted = False

    # -- lifecycle (the microservice calls these) ------------------------------------------------

    def configure(self, tree: Any, environ: Mapping[str, str] | None = None) -> TracingConfig:
        """Check ``system.tracing`` (a :class:`TracingSettingsError` names the bad key)."""
        self.config = parse_tracing_settings(tree, environ)
        return self.config

    def start_for(self, service: Any) -> None:
        """:meth:`start` with the name, version, deploy name, instance id and redactor of ``service``."""
        self.start(
            service_name=str(service.name),
            version=getattr(service, "version", None),
            deploy_name=service.deploy_name,
            instance_id=service.instance_id,
            redactor=service.redactor,
        )

    def start(
        self,
        *,
        service_name: str,
        version: str | None = None,
        deploy_name: str | None = None,
        instance_id: str | None = None,
        redactor: Redactor | None = None,
    ) -> None:
        """Turn tracing on when the configuration asks for it (its exporter starts)."""
        if self.enabled or not self.config.enabled:
            return
        try:
            from tamarco.core.tracing._sdk import Exporting
        except ImportError as error:
            raise TracingSettingsError(
                f"{PREFIX}.enabled",
                f"is true but OpenTelemetry is not installed ({error.name or error}): "
                "pip install 'tamarco-core[tracing]' (the tamarco meta-package's [all] has it)",
            ) from None
        if redactor is not None and self.config.headers:
            redactor.add(*self.config.headers.values())
        resource = {"service.name": service_name, "service.instance.id": instance_id or ""}
        if version:
            resource["service.version"] = version
        if deploy_name:
            resource["deployment.environment"] = deploy_name
            resource["deployment.environment.name"] = deploy_name
        self._exporting = Exporting(self.config, resource, redactor)
        self.tracer = self._exporting.tracer
        self.enabled = True
        global _active
        _active += 1
        self._counted = True
        logger.info(
            "tracing on: spans of %s exported to %s (%s)",
            service_name,
            self.config.shown_url,
            self._exporting.sampler_description,
        )

    async def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """Export what is pending (spans of the drained work), then stop the exporter."""
        exporting, self._exporting = self._exporting, None
        self.enabled = False
        self.tracer = None
        global _active
        if self._counted:
            _active -= 1
            self._counted = False
        if exporting is None:
            return
        # A daemon thread, not the default executor: an export stuck on a dead collector must not
        # hold the process's exit (asyncio.run waits for the executor's threads).
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()

        def shutdown() -> None:
            try:
                exporting.shutdown(timeout)
            finally:
                with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits
                    loop.call_soon_threadsafe(_resolve, done)

        threading.Thread(target=shutdown, name="tamarco-tracing-stop", daemon=True).start()
        try:
            await asyncio.wait_for(done, timeout + 1.0)
        except TimeoutError:
            logger.warning("tracing: spans not all exported to %s within %g s at stop", self.config.shown_url, timeout)
        self._last_report = exporting.report()

    def report(self) -> dict[str, Any]:
        """What ``/status`` shows: on or off, where to, and the exporter's health (no header value)."""
        if self._exporting is not None:
            return self._exporting.report()
        last = getattr(self, "_last_report", None)
        if last is not None:
            return {**last, "enabled": False}
        return {"enabled": False}

    # -- spans (plugins call these) ---------------------------------------------------------------

    def start_span(
        self,
        name: str,
        kind: SpanKind = SpanKind.INTERNAL,
        attributes: Mapping[str, Any] | None = None,
        *,
        headers: Mapping[str, Any] | None = None,
        links: Sequence[Any] = (),
    ) -> Any:
        """A started span (end it!), child of the W3C context in ``headers`` when given (a
        request's or a message's), otherwise of the current span. The no-op span while off."""
        exporting = self._exporting
        if exporting is None:
            return NOOP_SPAN
        return exporting.start_span(name, kind, attributes, headers, links)

    def activate(self, span: Any) -> object:
        """Make ``span`` the current span of this context; :meth:`deactivate` undoes it."""
        if self._exporting is None or span is NOOP_SPAN:
            return None
        return self._exporting.activate(span)

    def deactivate(self, token: object) -> None:
        if token is not None and self._exporting is not None:
            self._exporting.deactivate(token)

    def fail(self, span: Any, error: BaseException | str) -> None:
        """Mark ``span`` failed (status ERROR, ``error.type``, the exception as an event)."""
        if self._exporting is not None and span is not NOOP_SPAN:
            self._exporting.fail(span, error)

    def inject(self, headers: MutableMapping[str, Any], span: Any = None) -> None:
        """Write the W3C trace context (``traceparent``, ``tracestate``) of ``span`` (default:
        the current span) into ``headers``."""
        if self._exporting is not None:
            self._exporting.inject(headers, span)

    def link(self, headers: Mapping[str, Any] | None) -> list[Any]:
        """A link to the span whose context ``headers`` carry (none if they carry none)."""
        if self._exporting is None or not headers:
            return []
        return self._exporting.link(headers)

    @contextlib.contextmanager
    def span(
        self,
        name: str,
        kind: SpanKind = SpanKind.INTERNAL,
        attributes: Mapping[str, Any] | None = None,
        *,
        headers: Mapping[str, Any] | None = None,
        links: Sequence[Any] = (),
    ) -> Iterator[Any]:
        """``with tracing.span(...) as span:``: started, current inside the block, failed if the
        block raises, ended after it."""
        exporting = self._exporting
        if exporting is None:
            yield NOOP_SPAN
            return
        span = exporting.start_span(name, kind, attributes, headers, links)
        token = exporting.activate(span)
        try:
            yield span
        except BaseException as error:
            if not isinstance(error, (asyncio.CancelledError, GeneratorExit)):
                exporting.fail(span, error)
            raise
        finally:
            exporting.deactivate(token)
            span.end()

    def __repr__(self) -> str:
        return f"<Tracing {'on: ' + self.config.shown_url if self.enabled else 'off'}>"


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
