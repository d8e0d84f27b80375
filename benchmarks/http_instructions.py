"""HTTP overhead in instructions per request, under cachegrind: what a busy machine cannot blur.

Each variant serves ``GET /`` (``text("Hello world!")``) and, in the same process and event
loop once the server is ready, a client sends ``--requests`` requests one after the other on
one keep-alive connection and reads each response whole. The process runs twice under
``valgrind --tool=cachegrind --cache-sim=no`` (``PYTHONHASHSEED=0``), with ``N`` and ``N + --extra``
requests: the difference of the instruction counts divided by ``--extra`` is the cost of one
request (server and the same client), start and exit cancelled out.

Variants: ``sanic`` (bare Sanic, ``app.run(single_process=True)``), ``sanic-server`` (the same
app served by ``app.create_server`` on a uvloop loop the script runs, Sanic's own protocol: the
embedding without Tamarco), ``tamarco-nometrics`` (a
``Microservice`` with an ``HTTPServerResource``, ``metrics: false``, default resources),
``tamarco`` (the same with the per-route meters on), and ``sanic-plain-protocol`` /
``tamarco-plain-protocol``: Tamarco's service serving with Sanic's own ``HttpProtocol`` (the
request-head deadline and connection limit off), to tell the embedding's parts apart.

Usage::

    .venv/bin/python benchmarks/http_instructions.py                      # ~5 min on a busy machine
    .venv/bin/python benchmarks/http_instructions.py --requests 200 --extra 500 --variants sanic tamarco
    .venv/bin/python benchmarks/http_instructions.py --requests 100 --extra 1000 --repeat 3 --variants sanic tamarco
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile

import cachegrind

HOST = "127.0.0.1"
BODY = "Hello world!"
VARIANTS = ("sanic", "sanic-server", "tamarco-nometrics", "tamarco", "tamarco-plain-protocol")
REQUEST = b"GET / HTTP/1.1\r\nHost: bench\r\n\r\n"


async def client(port: int, requests: int) -> None:
    reader, writer = await asyncio.open_connection(HOST, port)
    for _ in range(requests):
        writer.write(REQUEST)
        head = await reader.readuntil(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 200"):
            raise RuntimeError(f"unexpected answer {head[:40]!r}")
        length = int(re.search(rb"(?i)content-length: (\d+)", head).group(1))  # type: ignore[union-attr]
        await reader.readexactly(length)
    writer.close()


def serve_sanic(requests: int) -> None:
    from sanic import Sanic
    from sanic.response import text

    app = Sanic("bare_sanic", configure_logging=False)

    @app.route("/")
    async def index(request):  # type: ignore[no-untyped-def]
        return text(BODY)

    @app.after_server_start
    async def load(app):  # type: ignore[no-untyped-def]
        async def run() -> None:
            await client(app.state.port, requests)
            app.stop()

        asyncio.get_running_loop().create_task(run())

    with socket.socket() as probe:  # Sanic's port=0 means 8000: take a free one
        probe.bind((HOST, 0))
        port = probe.getsockname()[1]
    app.run(host=HOST, port=port, single_process=True, access_log=False, motd=False)


def serve_sanic_server(requests: int) -> None:
    import uvloop
    from sanic import Sanic
    from sanic.response import text

    app = Sanic("embedded_sanic", configure_logging=False)

    @app.route("/")
    async def index(request):  # type: ignore[no-untyped-def]
        return text(BODY)

    async def main() -> None:
        sock = socket.socket()
        sock.bind((HOST, 0))
        port = sock.getsockname()[1]
        server = await app.create_server(
            sock=sock, return_asyncio_server=True, access_log=False, asyncio_server_kwargs={"start_serving": False}
        )
        assert server is not None
        await server.startup()
        await server.before_start()
        await server.start_serving()
        await server.after_start()
        await asyncio.get_running_loop().create_task(client(port, requests))
        await server.before_stop()
        await server.close()
        await server.after_stop()

    uvloop.run(main())


def serve_tamarco(requests: int, metrics: bool, plain_protocol: bool) -> None:
    from sanic.response import text
    from tamarco.core.microservice import Microservice
    from tamarco.resources.io.http.resource import HTTPServerResource

    class HelloService(Microservice):
        name = "http_instructions"
        http_server = HTTPServerResource()

    service = HelloService()
    service.settings.update_internal(
        {
            "system": {
                "logging": {"profile": "PRODUCTION", "stdout": False},
                "resources": {
                    "http_server": {"host": HOST, "port": 0, "metrics": metrics},
                    "tamarco_http_report_server": {"port": 0},
                },
            }
        }
    )
    if plain_protocol:
        from sanic.server.protocols.http_protocol import HttpProtocol

        service.http_server._protocol = lambda: HttpProtocol  # type: ignore[method-assign]

    @service.http_server.app.route("/")
    async def index(request):  # type: ignore[no-untyped-def]
        return text(BODY)

    async def load() -> None:
        await client(int(service.http_server.port or 0), requests)
        await service.stop_gracefully()

    async def start_load() -> None:  # a task of its own, as in the other variants
        asyncio.get_running_loop().create_task(load())

    service.hooks.on_running(start_load)
    try:
        service.run()
    except SystemExit as exit_:
        if exit_.code:
            raise


def instructions(variant: str, requests: int, env: dict[str, str], out_dir: str) -> int:
    out = os.path.join(out_dir, f"cachegrind.{variant}.{requests}")
    if variant.endswith("-before"):
        variant = variant.removesuffix("-before")
        env = {**env, "PYTHONPATH": env["TAMARCO_BENCH_BEFORE_SRC"]}
    # Once without valgrind first: the bytecode cache is written then, not counted in one run only.
    warm_up = [sys.executable, __file__, "--serve", variant, "--requests", "1"]
    subprocess.run(warm_up, env=env, capture_output=True, timeout=600, check=True)
    command = [
        sys.executable,
        __file__,
        "--serve",
        variant,
        "--requests",
        str(requests),
    ]
    return cachegrind.count(variant, command, env, out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--extra", type=int, default=1000, help="requests added in the second run")
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=VARIANTS)
    parser.add_argument("--repeat", type=int, default=1, help="measurements per variant (median)")
    parser.add_argument(
        "--before-src",
        help="also measure the tamarco variants with this tamarco-http src first on PYTHONPATH (an older commit's)",
    )
    parser.add_argument("--serve", choices=VARIANTS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve == "sanic":
        serve_sanic(args.requests)
        return 0
    if args.serve == "sanic-server":
        serve_sanic_server(args.requests)
        return 0
    if args.serve is not None:  # tamarco variants
        serve_tamarco(args.requests, metrics=args.serve == "tamarco", plain_protocol="plain" in args.serve)
        return 0

    env = {**os.environ, "PYTHONHASHSEED": "0", "SANIC_IGNORE_PRODUCTION_WARNING": "1"}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    per_request: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="tamarco-bench-") as out_dir:
        env["PYTHONPYCACHEPREFIX"] = os.path.join(out_dir, "pycache")
        variants = list(args.variants)
        if args.before_src:
            env["TAMARCO_BENCH_BEFORE_SRC"] = os.path.abspath(args.before_src)
            variants += [f"{variant}-before" for variant in args.variants if variant.startswith("tamarco")]
        for variant in variants:
            samples = []
            for _ in range(args.repeat):
                base = instructions(variant, args.requests, env, out_dir)
                more = instructions(variant, args.requests + args.extra, env, out_dir)
                samples.append((more - base) / args.extra)
            per_request[variant] = statistics.median(samples)
            runs = f" (runs: {', '.join(f'{sample:,.0f}' for sample in samples)})" if len(samples) > 1 else ""
            print(f"{variant:<24} {per_request[variant]:>10,.0f} instructions/request{runs}", flush=True)
    base = "sanic-server" if "sanic-server" in per_request else "sanic"
    if base in per_request:
        print()
        for variant, count in per_request.items():
            extra = count - per_request[base]
            print(f"{variant:<24} {count / per_request[base]:>6.3f}x {base} ({extra:+,.0f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
