"""An OTLP/HTTP trace receiver (``otlp_collector``): services export spans to it, tests read them back."""

from __future__ import annotations

import json
import sys
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ._probes import tcp_open
from ._process import ProcessSpec
from ._service import Runner, Service
from ._wait import wait_until

Span = dict[str, Any]


class OTLPCollectorService(Service):
    """Receives ``POST /v1/traces`` (OTLP/HTTP, protobuf or JSON) and keeps every span.

    ``url`` is what ``system.tracing.endpoint`` (or ``OTEL_EXPORTER_OTLP_ENDPOINT``) takes. Spans
    are kept across ``restart()``; :meth:`spans` returns them as dicts (``trace_id``, ``span_id``,
    ``parent_span_id`` in hex, ``name``, ``kind`` such as ``"SERVER"``, ``attributes``,
    ``events``, ``links``, ``status``, ``resource``). :meth:`set_behaviour` makes it slow or failing.

    Both backends run the harness's own receiver (``tamarco.harness._otlp_receiver``) as a local
    process: it is Python and needs no image.
    """

    kind = "otlp"
    port_names = ("http",)
    start_timeout = 20.0

    def __init__(self, backend: str = "local", **kwargs: Any) -> None:
        super().__init__(backend, **kwargs)
        self.spans_path = self.workdir / "spans.jsonl"
        self.requests_path = self.workdir / "requests.jsonl"

    def _make_runner(self) -> Runner:
        from ._local import LocalRunner

        return LocalRunner(self.kind, self.workdir, self.local_processes)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def traces_url(self) -> str:
        return f"{self.url}/v1/traces"

    def env(self) -> dict[str, str]:
        return {"TAMARCO_OTLP_HOST": self.host, "TAMARCO_OTLP_PORT": str(self.port), "TAMARCO_OTLP_ENDPOINT": self.url}

    def is_ready(self) -> bool:
        return tcp_open(self.host, self.port)

    def local_processes(self) -> list[ProcessSpec]:
        argv = [
            sys.executable,
            "-m",
            "tamarco.harness._otlp_receiver",
            "--host",
            self.host,
            "--port",
            str(self.port),
            "--spans",
            str(self.spans_path),
            "--requests",
            str(self.requests_path),
        ]
        return [ProcessSpec("receiver", argv)]

    # -- fault injection -------------------------------------------------------------------

    def set_behaviour(self, delay: float = 0.0, status: int = 200) -> None:
        """Answer each export after ``delay`` seconds, with ``status`` (503: failing); defaults restore it."""
        request = urllib.request.Request(
            f"{self.url}/harness/behaviour",
            data=json.dumps({"delay": delay, "status": status}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            response.read()

    # -- reading back ----------------------------------------------------------------------

    def spans(self) -> list[Span]:
        """Every span received so far, in arrival order."""
        return _read_lines(self.spans_path)

    def requests(self) -> list[dict[str, Any]]:
        """Every export request received so far: ``{"path", "headers"}`` (header names lowercase)."""
        return _read_lines(self.requests_path)

    def wait_for_spans(
        self, predicate: Callable[[Span], bool] = lambda span: True, timeout: float = 10.0, count: int = 1
    ) -> list[Span]:
        """Poll until at least ``count`` spans match ``predicate``; returns the matches."""

        def attempt() -> list[Span] | None:
            matches = [span for span in self.spans() if predicate(span)]
            return matches if len(matches) >= count else None

        found: list[Span] = wait_until(attempt, timeout, interval=0.05, description=f"{count} matching span(s)")
        return found

    def trace(self, trace_id: str) -> list[Span]:
        """The spans of one trace received so far."""
        return [span for span in self.spans() if span["trace_id"] == trace_id]

    def clear(self) -> None:
        """Forget the spans and requests received so far."""
        for path in (self.spans_path, self.requests_path):
            if path.exists():
                path.write_text("")


def _read_lines(path: Path) -> list[dict[str, Any]]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    items = []
    for line in text.splitlines(keepends=True):
        if not line.endswith("\n"):
            break  # still being written
        items.append(json.loads(line))
    return items
