"""What tracing costs: off (nothing, the target) and on (vs the same server instrumented by hand).

HTTP hello-world, each server in its own process (this script started again with ``--serve``),
load from ``wrk`` (or aiohttp), variants interleaved round by round, medians compared in the same
run (the machine drifts between runs):

- ``sanic``: bare Sanic, the baseline;
- ``sanic-otel``: bare Sanic instrumented by hand with the OpenTelemetry SDK as its documentation
  shows (request/response middleware: extract the ``traceparent``, a SERVER span with the HTTP
  attributes, current during the handler; ``BatchSpanProcessor`` + OTLP/HTTP exporter);
- ``tamarco``: ``HTTPServerResource`` in a ``Microservice``, tracing off (the default);
- ``tamarco-traced``: the same with ``system.tracing.enabled`` at ratio 1.0;
- ``tamarco-before`` (with ``--before-src DIRS``): ``tamarco`` with ``DIRS`` (``os.pathsep``-joined
  ``src`` directories of tamarco-core and tamarco-http exported from the commit before tracing)
  first on ``PYTHONPATH``: tracing off vs before, in one run.

Both traced variants export every span to the same local OTLP/HTTP sink (this script with
``--sink``: it reads each request and answers 200, decoding nothing). Ratios printed:
``tamarco / sanic`` (off), ``tamarco-traced / sanic-otel`` (on: target no worse than by hand, so
>= the off ratio) and ``tamarco / tamarco-before`` (target >= 0.99).

Also measured in this process: what a log record costs for the trace fields while no service
traces (the one per-record addition of tracing-off).

``--instructions``: the same four variants (and ``tamarco-before``) in instructions per request
under cachegrind instead (what a busy machine cannot blur): each runs under ``valgrind
--tool=cachegrind`` serving ``--requests`` then ``--requests + --extra`` requests from a client in
its own loop (``http_instructions.client``); the difference divided by ``--extra`` is one request,
its span's export included (the batch thread runs in the same process; both exporters flush at exit).

``--amqp``: the AMQP case instead (``tracing_amqp.py``): push→pull on the harness's RabbitMQ (or
``--amqp-url``), raw aio-pika with and without spans written by hand vs Tamarco with tracing off
and on, CPU per message.

Usage::

    .venv/bin/python benchmarks/tracing_overhead.py                       # 3 rounds x 10 s
    .venv/bin/python benchmarks/tracing_overhead.py --duration 3 --rounds 1
    git -C . archive <commit> packages/tamarco-core/src packages/tamarco-http/src | tar -x -C /tmp/before
    .venv/bin/python benchmarks/tracing_overhead.py \\
        --before-src /tmp/before/packages/tamarco-core/src:/tmp/before/packages/tamarco-http/src
    .venv/bin/python benchmarks/tracing_overhead.py --amqp --messages 3000 --rounds 3
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import timeit
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import cachegrind
from http_overhead import BODY, HOST, cpu_seconds, free_port, run_aiohttp_load, run_wrk, wait_ready

VARIANTS = ("sanic", "sanic-otel", "tamarco", "tamarco-traced")


# -- servers (child processes) ----------------------------------------------------------------


def serve_sink(port: int) -> None:
    """An OTLP/HTTP endpoint that accepts every export and decodes nothing."""
    from aiohttp import web

    async def accept(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(body=b"", content_type="application/x-protobuf")

    app = web.Application(client_max_size=64 * 1024 * 1024)
    app.router.add_post("/v1/traces", accept)
    web.run_app(app, host=HOST, port=port, access_log=None, print=None)


def serve_sanic(port: int, endpoint: str | None, load: int = 0) -> None:
    import asyncio

    from sanic import Sanic
    from sanic.response import text

    app = Sanic("bare_sanic", configure_logging=False)
    if endpoint is not None:
        instrument_by_hand(app, endpoint)

    @app.route("/")
    async def index(request):
        return text(BODY)

    if load:
        from http_instructions import client

        @app.after_server_start
        async def start_load(app):  # type: ignore[no-untyped-def]
            async def run() -> None:
                await client(app.state.port, load)
                app.stop()

            asyncio.get_running_loop().create_task(run())

    app.run(host=HOST, port=port, single_process=True, access_log=False, motd=False)


def instrument_by_hand(app, endpoint: str) -> None:  # type: ignore[no-untyped-def]
    """What a Sanic user writes with the OpenTelemetry SDK (no Sanic instrumentation exists)."""
    from opentelemetry import context, propagate, trace
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from opentelemetry.trace import SpanKind, Status, StatusCode

    provider = TracerProvider(resource=Resource.create({"service.name": "bare_sanic"}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{endpoint}/v1/traces")))
    tracer = provider.get_tracer("by-hand")

    @app.on_request
    async def start_span(request):  # type: ignore[no-untyped-def]
        route = f"/{request.route.path}" if request.route else None
        span = tracer.start_span(
            f"{request.method} {route}" if route else request.method,
            context=propagate.extract(request.headers),
            kind=SpanKind.SERVER,
            attributes={
                "http.request.method": request.method,
                "url.path": request.path,
                "url.scheme": request.scheme,
                "http.route": route or "",
                "server.address": request.server_name,
                "server.port": request.server_port,
                "client.address": request.remote_addr or request.ip,
                "network.protocol.version": request.version,
            },
        )
        request.ctx.span = span
        request.ctx.token = context.attach(trace.set_span_in_context(span))

    @app.on_response
    async def end_span(request, response):  # type: ignore[no-untyped-def]
        span = getattr(request.ctx, "span", None)
        if span is None:
            return
        span.set_attribute("http.response.status_code", response.status)
        if response.status >= 500:
            span.set_status(Status(StatusCode.ERROR))
        context.detach(request.ctx.token)
        span.end()


def serve_tamarco(port: int, endpoint: str | None, load: int = 0) -> None:
    from sanic.response import text
    from tamarco.core.microservice import Microservice
    from tamarco.resources.io.http.resource import HTTPServerResource

    class HelloService(Microservice):
        name = "tracing_overhead"
        http_server = HTTPServerResource()

    service = HelloService()
    system: dict = {
        "logging": {"profile": "PRODUCTION"},
        "resources": {"http_server": {"host": HOST, "port": port}, "tamarco_http_report_server": {"port": 0}},
    }
    if endpoint is not None:
        system["tracing"] = {"enabled": True, "endpoint": endpoint, "sample_ratio": 1.0}
    service.settings.update_internal({"system": system})

    @service.http_server.app.route("/")
    async def index(request):
        return text(BODY)

    if load:
        from http_instructions import client

        async def run_load() -> None:
            await client(int(service.http_server.port or 0), load)
            await service.stop_gracefully()

        service.hooks.on_running(run_load)
    try:
        service.run()
    except SystemExit as exit_:
        if exit_.code:
            raise


def instructions(variant: str, requests: int, endpoint: str, env: dict[str, str]) -> int:
    """Instructions of one run of ``variant`` serving ``requests`` requests, under cachegrind."""
    command = [sys.executable, __file__, "--serve", variant, "--port", "0", "--endpoint", endpoint]
    return cachegrind.count(variant, [*command, "--load", str(requests)], env, "/dev/null")


def measure_instructions(variants: tuple[str, ...], args: argparse.Namespace, endpoint: str) -> None:
    env = {**os.environ, "PYTHONHASHSEED": "0", "SANIC_IGNORE_PRODUCTION_WARNING": "1"}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    per_request: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="tamarco-bench-") as out_dir:
        env["PYTHONPYCACHEPREFIX"] = os.path.join(out_dir, "pycache")
        for variant in variants:
            variant_env = dict(env)
            if variant == "tamarco-before":
                variant_env["PYTHONPATH"] = os.pathsep.join(filter(None, (args.before_src, env.get("PYTHONPATH"))))
                variant_env["PYTHONPYCACHEPREFIX"] = os.path.join(out_dir, "pycache-before")
            # Bytecode compiled first, outside valgrind: both measured runs start alike.
            warm_up = [
                sys.executable,
                __file__,
                "--serve",
                variant,
                "--port",
                "0",
                "--endpoint",
                endpoint,
                "--load",
                "5",
            ]
            subprocess.run(warm_up, env=variant_env, capture_output=True, check=True, timeout=300)
            base = instructions(variant, args.requests, endpoint, variant_env)
            more = instructions(variant, args.requests + args.extra, endpoint, variant_env)
            per_request[variant] = (more - base) / args.extra
            print(f"  {variant:<16}{per_request[variant]:>12,.0f} instructions/request", flush=True)
    print()
    report(per_request, "instructions; ")


def report(values: dict[str, float], unit: str = "") -> None:
    """The ratios of whichever variants were measured (``values``: per request)."""
    pairs = (
        ("tracing off:   tamarco / sanic", "tamarco", "sanic"),
        ("tracing on:    tamarco-traced / sanic-otel", "tamarco-traced", "sanic-otel"),
        ("               sanic-otel / sanic", "sanic-otel", "sanic"),
        ("               tamarco-traced / tamarco", "tamarco-traced", "tamarco"),
        ("off vs before: tamarco / tamarco-before", "tamarco", "tamarco-before"),
    )
    for label, ours, theirs in pairs:
        if ours in values and theirs in values:
            print(f"{label:<45} = {values[ours] / values[theirs]:.3f} ({unit}per request; lower is cheaper)")


# -- measuring --------------------------------------------------------------------------------


def measure(variant: str, args: argparse.Namespace, endpoint: str) -> tuple[float, float]:
    port = free_port()
    command = [sys.executable, __file__, "--serve", variant, "--port", str(port), "--endpoint", endpoint]
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "SANIC_IGNORE_PRODUCTION_WARNING": "1"}
    if variant == "tamarco-before":
        env["PYTHONPATH"] = os.pathsep.join(filter(None, (args.before_src, os.environ.get("PYTHONPATH"))))
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    url = f"http://{HOST}:{port}/"
    try:
        wait_ready(url, process)
        cpu_before = cpu_seconds(process.pid)
        if args.client == "wrk":
            rps, total = run_wrk(url, args.duration, args.threads, args.connections)
        else:
            rps, total = run_aiohttp_load(url, args.duration, args.connections)
        cpu = cpu_seconds(process.pid) - cpu_before
        return rps, cpu / total * 1e6 if total else float("nan")
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def log_record_cost() -> tuple[float, float]:
    """ns per record: a bare ``Filter``-less handler call vs with the trace-fields filter (off)."""
    from tamarco.core.tracing import TRACE_FIELDS_FILTER

    record = logging.LogRecord("bench", logging.INFO, __file__, 1, "message %s", ("x",), None)
    number = 500_000

    def best(statement: str) -> float:
        namespace = {"filter": TRACE_FIELDS_FILTER.filter, "record": record, "nothing": lambda r: True}
        return min(timeit.repeat(statement, globals=namespace, number=number, repeat=5)) / number * 1e9

    return best("nothing(record)"), best("filter(record)")


def measure_amqp_broker(args: argparse.Namespace, endpoint: str) -> None:
    from amqp_throughput import harness_broker
    from tracing_amqp import measure_amqp

    logging.basicConfig(level=logging.WARNING)
    if args.amqp_url:
        from yarl import URL

        url = URL(args.amqp_url)
        broker = {
            "host": url.host,
            "port": url.port,
            "user": url.user,
            "password": url.password,
            "vhost": url.path[1:] or "/",
        }
        measure_amqp(args.amqp_url, broker, args.messages, args.rounds, endpoint)
        return
    from tamarco.harness import Harness

    with Harness() as harness:
        measure_amqp(harness.rabbitmq.url, harness_broker(harness.rabbitmq), args.messages, args.rounds, endpoint)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--client", choices=("auto", "wrk", "aiohttp"), default="auto")
    parser.add_argument("--before-src", help="src dirs (os.pathsep-joined) of tamarco before tracing")
    parser.add_argument("--serve", choices=(*VARIANTS, "tamarco-before", "sink"), help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--endpoint", help=argparse.SUPPRESS)
    parser.add_argument("--load", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--instructions", action="store_true", help="instructions per request (cachegrind)")
    parser.add_argument("--variants", nargs="+", choices=(*VARIANTS, "tamarco-before"), help="a subset to measure")
    parser.add_argument("--requests", type=int, default=300, help="with --instructions: requests of the first run")
    parser.add_argument("--extra", type=int, default=1000, help="with --instructions: requests added in the second")
    parser.add_argument("--amqp", action="store_true", help="the AMQP case (CPU per message) instead of HTTP")
    parser.add_argument("--amqp-url", help="with --amqp: an existing broker instead of the harness's")
    parser.add_argument("--messages", type=int, default=5000, help="with --amqp: messages per round")
    args = parser.parse_args()

    if args.serve == "sink":
        serve_sink(args.port)
        return
    if args.serve:
        traced = args.serve in ("sanic-otel", "tamarco-traced")
        endpoint = args.endpoint if traced else None
        (serve_sanic if args.serve.startswith("sanic") else serve_tamarco)(args.port, endpoint, args.load)
        return

    if args.client == "auto":
        args.client = "wrk" if shutil.which("wrk") else "aiohttp"
    variants = VARIANTS + (("tamarco-before",) if args.before_src else ())
    if args.variants:
        variants = tuple(args.variants)
    bare, with_filter = log_record_cost()
    print(
        f"log record, tracing off: trace-fields filter {with_filter - bare:+.0f} ns per record (a call: {bare:.0f} ns)"
    )
    sink_port = free_port()
    sink = subprocess.Popen([sys.executable, __file__, "--serve", "sink", "--port", str(sink_port)])
    endpoint = f"http://{HOST}:{sink_port}"
    if args.amqp:
        try:
            measure_amqp_broker(args, endpoint)
        finally:
            sink.send_signal(signal.SIGTERM)
            sink.wait(timeout=10)
        return
    if args.instructions:
        try:
            print(f"HTTP hello-world under cachegrind, {args.requests} and {args.requests + args.extra} requests")
            measure_instructions(variants, args, endpoint)
        finally:
            sink.send_signal(signal.SIGTERM)
            sink.wait(timeout=10)
        return
    print(
        f"HTTP hello-world, {args.client} ({args.connections} connections), {args.duration:g} s x {args.rounds} "
        f"rounds, {os.cpu_count()} CPUs, Python {sys.version.split()[0]}",
        flush=True,
    )
    results: dict[str, list[float]] = {variant: [] for variant in variants}
    cpu: dict[str, list[float]] = {variant: [] for variant in variants}
    try:
        for round_number in range(1, args.rounds + 1):
            shift = (round_number - 1) % len(variants)
            for variant in variants[shift:] + variants[:shift]:
                rps, cpu_us = measure(variant, args, endpoint)
                results[variant].append(rps)
                cpu[variant].append(cpu_us)
                print(
                    f"  round {round_number}  {variant:<16}{rps:>10,.0f} req/s {cpu_us:>8.1f} us CPU/request",
                    flush=True,
                )
    finally:
        sink.send_signal(signal.SIGTERM)
        sink.wait(timeout=10)

    median = {variant: statistics.median(values) for variant, values in results.items()}
    cpu_median = {variant: statistics.median(values) for variant, values in cpu.items()}
    print()
    print(f"{'variant':<18}{'median req/s':>14}{'us CPU/req':>12}")
    for variant in variants:
        print(f"{variant:<18}{median[variant]:>14,.0f}{cpu_median[variant]:>12.1f}")
    print()
    print(f"tracing off:  tamarco / sanic                = {median['tamarco'] / median['sanic']:.2f}")
    print(f"tracing on:   tamarco-traced / sanic-otel    = {median['tamarco-traced'] / median['sanic-otel']:.2f}")
    print(f"              sanic-otel / sanic             = {median['sanic-otel'] / median['sanic']:.2f}")
    print(f"              tamarco-traced / tamarco       = {median['tamarco-traced'] / median['tamarco']:.2f}")
    if "tamarco-before" in median:
        ratio = median["tamarco"] / median["tamarco-before"]
        print(f"off vs before: tamarco / tamarco-before      = {ratio:.2f} (target >= 0.99)")


if __name__ == "__main__":
    main()
