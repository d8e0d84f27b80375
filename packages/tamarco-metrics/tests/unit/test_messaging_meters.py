"""Messaging resources record their meters in the service's scope (through core's instrumentation
API), and create none when the service exports no meters."""

from __future__ import annotations

import asyncio
from typing import Any

from tamarco.core.messaging import InMemoryTransport, MessageOutput, MessagingResource, PullInput
from tamarco.core.microservice import MicroserviceContext
from tamarco.harness.messaging_suite import wait_until
from tamarco.resources.basic.metrics import GLOBAL_SCOPE, MetricsResource


class Bus(MessagingResource):
    transport_kind = "memory"


def _service(with_metrics: bool, handled: list[Any]) -> MicroserviceContext:
    async def handle(body: Any) -> None:
        handled.append(body)
        if body == "bad":
            raise ValueError("bad message")

    attributes: dict[str, Any] = {
        "name": "meters_of_messaging" if with_metrics else "no_meters_of_messaging",
        "bus": Bus(
            inputs=[PullInput("jobs", on_message=handle, retry={"attempts": 1})],
            outputs=[MessageOutput("jobs")],
            transport=InMemoryTransport(),
        ),
    }
    if with_metrics:
        attributes["metrics"] = MetricsResource(prometheus=False)
    return type("Svc", (MicroserviceContext,), attributes)(environ={})


async def test_consumed_failed_dead_lettered_and_published_are_counted_in_the_service_scope() -> None:
    handled: list[Any] = []
    service = _service(True, handled)
    async with service:
        output = service.bus.outputs["jobs"]  # type: ignore[attr-defined]
        for body in ("a", "b", "bad"):
            await output.push(body)
        await wait_until(lambda: len(handled) == 3, 5, "three handled")
        await wait_until(lambda: service.bus.consumers["jobs"].dead_lettered == 1, 5, "one dead-lettered")  # type: ignore[attr-defined]
        scope = service.metrics.scope  # type: ignore[attr-defined]
        scope.run_collect_hooks()  # what every export does first: handled messages are applied in batches
        labels = {"transport": "memory", "resource": "bus", "input": "jobs"}
        assert scope.get("messages_consumed", labels).value == 2
        assert scope.get("messages_failed", labels).value == 1
        assert scope.get("messages_dead_lettered", labels).value == 1
        assert scope.get("message_handler_duration", labels).count == 3
        published = {"transport": "memory", "resource": "bus", "output": "jobs"}
        assert scope.get("messages_published", published).value == 3
        await output.push("after the export")
        await wait_until(lambda: len(handled) == 4, 5, "a fourth handled")
    # The drain on stop applies what is pending: the final report has it.
    assert scope.get("messages_consumed", labels).value == 3


async def test_a_service_without_metrics_creates_no_series() -> None:
    handled: list[Any] = []
    async with _service(False, handled) as service:
        await service.bus.outputs["jobs"].push("a")  # type: ignore[attr-defined]
        await wait_until(lambda: handled == ["a"], 5, "one handled")
    assert GLOBAL_SCOPE.get("messages_consumed", {"transport": "memory", "resource": "bus", "input": "jobs"}) is None


async def test_messages_handled_while_draining_reach_the_final_report(tmp_path: Any) -> None:
    started = asyncio.Event()
    finished: list[Any] = []

    async def slow(body: Any) -> None:
        started.set()
        await asyncio.sleep(0.3)
        finished.append(body)

    report = tmp_path / "metrics.txt"
    service = type(
        "Svc",
        (MicroserviceContext,),
        {
            "name": "drained_meters",
            "bus": Bus(
                inputs=[PullInput("jobs", on_message=slow)],
                outputs=[MessageOutput("jobs")],
                transport=InMemoryTransport(),
            ),
            "metrics": MetricsResource(prometheus=False),
        },
    )(environ={})
    service.settings.update_internal(
        {
            "system": {
                "resources": {
                    "metrics": {
                        "collect_frequency": 3600,
                        "handlers": {"file": {"enabled": True, "path": str(report)}},
                    },
                    "bus": {"drain_timeout_seconds": 5},
                }
            }
        }
    )
    async with service:
        await service.bus.outputs["jobs"].push("last")  # type: ignore[attr-defined]
        await asyncio.wait_for(started.wait(), 5)
    assert finished == ["last"]
    consumed = [line for line in report.read_text().splitlines() if "messages_consumed" in line]
    assert len(consumed) == 1 and float(consumed[0].split()[1]) == 1, consumed
