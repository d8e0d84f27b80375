"""An OTLP/HTTP trace receiver, run by the harness as a child process (``otlp_collector``).

No OpenTelemetry Collector binary can be installed here, so the harness receives spans itself:
``POST /v1/traces`` with an ``ExportTraceServiceRequest`` (protobuf, optionally gzip; or the
OTLP JSON encoding), decoded with ``opentelemetry-proto``. Each span is appended to the spans file
as one JSON line (ids in lowercase hex, as OpenTelemetry prints them; the attributes of the span,
its resource and its events as plain values); each request's headers go to the requests file, so a
test can check what an exporter sent (``headers`` setting) without the collector logging them.

``POST /harness/behaviour`` with ``{"delay": seconds, "status": code}`` makes the receiver slow
or failing (fault injection: a collector that is slow or answers 503); ``{}`` restores it.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import logging
import sys
from pathlib import Path
from typing import IO, Any

from aiohttp import web
from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

log = logging.getLogger("tamarco.harness.otlp")

_KINDS = {0: "UNSPECIFIED", 1: "INTERNAL", 2: "SERVER", 3: "CLIENT", 4: "PRODUCER", 5: "CONSUMER"}
_STATUS = {0: "UNSET", 1: "OK", 2: "ERROR"}


def any_value(value: AnyValue) -> Any:
    """An OTLP ``AnyValue`` as a plain Python value."""
    which = value.WhichOneof("value")
    if which is None:
        return None
    if which == "array_value":
        return [any_value(item) for item in value.array_value.values]
    if which == "kvlist_value":
        return attributes(value.kvlist_value.values)
    if which == "bytes_value":
        return value.bytes_value.hex()
    return getattr(value, which)


def attributes(items: Any) -> dict[str, Any]:
    pairs: list[KeyValue] = list(items)
    return {pair.key: any_value(pair.value) for pair in pairs}


def decode(request: ExportTraceServiceRequest) -> list[dict[str, Any]]:
    """Every span of ``request``, flattened with its resource and scope."""
    spans = []
    for resource_spans in request.resource_spans:
        resource = attributes(resource_spans.resource.attributes)
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                spans.append(
                    {
                        "trace_id": span.trace_id.hex(),
                        "span_id": span.span_id.hex(),
                        "parent_span_id": span.parent_span_id.hex(),
                        "trace_state": span.trace_state,
                        "name": span.name,
                        "kind": _KINDS.get(span.kind, str(span.kind)),
                        "start_time_unix_nano": span.start_time_unix_nano,
                        "end_time_unix_nano": span.end_time_unix_nano,
                        "attributes": attributes(span.attributes),
                        "events": [
                            {"name": event.name, "attributes": attributes(event.attributes)} for event in span.events
                        ],
                        "links": [
                            {
                                "trace_id": link.trace_id.hex(),
                                "span_id": link.span_id.hex(),
                                "attributes": attributes(link.attributes),
                            }
                            for link in span.links
                        ],
                        "status": {
                            "code": _STATUS.get(span.status.code, str(span.status.code)),
                            "message": span.status.message,
                        },
                        "resource": resource,
                        "scope": scope_spans.scope.name,
                    }
                )
    return spans


class Receiver:
    def __init__(self, spans_path: Path, requests_path: Path) -> None:
        self._spans: IO[str] = spans_path.open("a", encoding="utf-8")
        self._requests: IO[str] = requests_path.open("a", encoding="utf-8")
        self.delay = 0.0
        self.status = 200

    async def traces(self, request: web.Request) -> web.Response:
        if self.delay:
            await asyncio.sleep(self.delay)
        body = await request.read()
        self._requests.write(
            json.dumps({"path": request.path, "headers": {k.lower(): v for k, v in request.headers.items()}}) + "\n"
        )
        self._requests.flush()
        if self.status != 200:
            return web.Response(status=self.status, text="harness: failing on purpose")
        if request.headers.get("Content-Encoding", "").lower() == "gzip":
            body = gzip.decompress(body)
        message = ExportTraceServiceRequest()
        try:
            if request.content_type == "application/json":
                json_format.Parse(body, message)
            else:
                message.ParseFromString(body)
        except Exception as error:
            return web.Response(status=400, text=f"cannot decode ExportTraceServiceRequest: {error}")
        for span in decode(message):
            self._spans.write(json.dumps(span) + "\n")
        self._spans.flush()
        return web.Response(
            body=ExportTraceServiceResponse().SerializeToString(), content_type="application/x-protobuf"
        )

    async def behaviour(self, request: web.Request) -> web.Response:
        wanted = await request.json()
        self.delay = float(wanted.get("delay", 0.0))
        self.status = int(wanted.get("status", 200))
        return web.json_response({"delay": self.delay, "status": self.status})


async def serve(args: argparse.Namespace) -> None:
    receiver = Receiver(Path(args.spans), Path(args.requests))
    app = web.Application(client_max_size=64 * 1024 * 1024)
    app.router.add_post("/v1/traces", receiver.traces)
    app.router.add_post("/harness/behaviour", receiver.behaviour)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, args.host, args.port).start()
    log.info("otlp receiver ready on %s:%s", args.host, args.port)
    await asyncio.Event().wait()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tamarco.harness._otlp_receiver")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--spans", required=True)
    parser.add_argument("--requests", required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(message)s")
    asyncio.run(serve(args))


if __name__ == "__main__":
    main()
