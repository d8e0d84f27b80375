"""What a service imports to start: nothing it does not use.

A hello-world service (an ``HTTPServerResource`` and every default resource: report server,
metrics, status, registry, profiler, memory analyzer) is started in a fresh interpreter; once
it runs, the names in ``sys.modules`` are compared with modules that cost import time and that
such a service never uses. Each was once imported at start (issue 25: ~45% of the start of a
service over bare Sanic's); this test fails when one comes back, without timing anything
(benchmarks/service_lifecycle.py measures the time).
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

pytest.importorskip("tamarco.resources.io.http")
pytest.importorskip("tamarco.resources.basic.metrics")
pytest.importorskip("tamarco.resources.basic.status")

#: Modules a started hello-world service must not have imported, and who uses them instead.
NOT_AT_START = {
    "aiohttp": "the HTTP client resource, when declared (the report server is on httptools)",
    "prometheus_client": "the first /metrics scrape",
    "cProfile": "the profiler, when enabled",
    "pstats": "the profiler's report",
    "tracemalloc": "the memory analyzer, when enabled",
    "yaml": "the YAML settings file and codec",
    "aetcd": "etcd settings and the registry, when enabled",
    "tamarco.core.etcd": "etcd settings, the registry when enabled, the CLI",
    "grpc": "the etcd client",
    "aio_pika": "tamarco-amqp",
    "aiokafka": "tamarco-kafka",
    "tamarco.core.messaging": "a messaging resource",
    "redis": "the Redis log output",
    "opentelemetry": "tracing, when enabled",
    "pydantic": "typed payloads",
    "cachetools": "the HTTP server's response cache, when enabled",
    "tamarco.core.logging.transports": "the Logstash, Redis and HTTP log outputs, when enabled",
    "tamarco.core.contracts": "the OpenAPI/AsyncAPI routes, at their first request",
    "tamarco.core.logging.testing": "tests (capture_logs); the start needs only logging._dispatch",
}

SERVICE = textwrap.dedent(
    """
    import json, sys
    from sanic.response import text
    from tamarco.core.microservice import Microservice
    from tamarco.resources.io.http.resource import HTTPServerResource

    class Hello(Microservice):
        name = "hello_imports"
        http_server = HTTPServerResource()

    service = Hello()
    service.settings.update_internal({"system": {"resources": {
        "http_server": {"host": "127.0.0.1", "port": 0},
        "tamarco_http_report_server": {"port": 0},
    }}})

    @service.http_server.app.route("/")
    async def index(request):
        return text("hello")

    async def running():
        print("MODULES " + json.dumps({
            "modules": sorted(sys.modules),
            "resources": {name: r.status_code.name for name, r in service.resources.items()},
        }), flush=True)
        await service.stop_gracefully()

    service.hooks.on_running(running)
    service.run()
    """
)


def test_hello_world_service_starts_without_unused_modules():
    done = subprocess.run([sys.executable, "-c", SERVICE], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    line = next(line for line in done.stdout.splitlines() if line.startswith("MODULES "))
    seen = json.loads(line[len("MODULES ") :])
    # Every default resource was there and started: the list below is about a full service.
    assert {"tamarco_http_report_server", "metrics", "status", "profiler", "memory_analyzer", "registry"} <= set(
        seen["resources"]
    )
    assert set(seen["resources"].values()) == {"STARTED"}, seen["resources"]
    modules = set(seen["modules"])
    # The report server is serving (its HTTP module is there): the check below is not vacuous.
    assert "tamarco.resources.io.http._report_http" in modules
    imported = {
        name: why
        for name, why in NOT_AT_START.items()
        if name in modules or any(module.startswith(name + ".") for module in modules)
    }
    assert not imported, f"imported at start but only used by: {imported}"
