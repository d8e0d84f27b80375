"""Typed handlers on the in-memory transport: the model in, invalid bodies dead-lettered at once."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest
from tamarco.core.logging.testing import capture_logs
from tamarco.core.messaging import Message, MessageOutput, MessagingResource, PullInput, RequestInput
from tamarco.core.messaging.testing import serving, use_in_memory
from tamarco.core.microservice import Microservice, task
from tamarco.core.payloads import VALIDATION_ERRORS_HEADER
from tamarco.harness.messaging_suite import wait_until

pydantic = pytest.importorskip("pydantic", reason="typed payloads need the pydantic extra")


class Bus(MessagingResource):
    transport_kind = "memory"


class Order(pydantic.BaseModel):
    id: int
    total: float


class Receipt(pydantic.BaseModel):
    order_id: int
    accepted: bool


@dataclasses.dataclass
class Event:
    kind: str


class Shop(Microservice):
    name = "typed_shop"
    use_default_resources = False

    events = PullInput[Event]("events")
    bus = Bus(
        inputs=[events],
        outputs=[
            MessageOutput[Order]("orders"),
            MessageOutput("questions"),
            MessageOutput("raw"),
            MessageOutput("events"),
        ],
    )

    def __init__(self) -> None:
        super().__init__(environ={})
        self.orders: list[Any] = []
        self.raw: list[Any] = []
        self.seen: list[Any] = []
        self.envelopes: list[Message] = []

    @PullInput(resource=bus, source="orders", retry={"attempts": 5, "delay_seconds": 0.01})
    async def on_order(self, order: Order) -> None:
        self.orders.append(order)

    @PullInput(resource=bus, source="raw")
    async def on_raw(self, body) -> None:  # type: ignore[no-untyped-def]  # unannotated: today's behaviour
        self.raw.append(body)

    @RequestInput(resource=bus, source="questions")
    async def on_question(self, order: Order, response_handler: Any) -> Receipt:
        return Receipt(order_id=order.id, accepted=order.total < 100)

    @task
    async def consume(self) -> None:
        async for event in self.events:
            self.seen.append(event)


async def test_a_typed_handler_gets_the_model_and_an_invalid_body_is_dead_lettered_at_once() -> None:
    service = Shop()
    broker = use_in_memory(service)
    orders = service.bus.outputs["orders"]
    with capture_logs(level="WARNING") as logs:
        async with serving(service):
            await orders.push(Order(id=1, total=9.5))  # a model, encoded by the output's codec
            await orders.push({"id": "two", "total": "lots", "password": "hunter22"})
            dead = await broker.wait_dead_letters("orders", 1)
            await wait_until(lambda: len(service.orders) == 1, 5, "the valid order handled")
            statistics = (await service.bus.status())["inputs"]["orders"]
    assert service.orders == [Order(id=1, total=9.5)]
    headers = dead[0].headers
    assert headers["x-tamarco-error-type"] == "PayloadValidationError"
    assert headers["x-tamarco-attempts"] == 1  # never retried, though the policy allows 5
    errors = json.loads(headers[VALIDATION_ERRORS_HEADER])
    assert [error["loc"] for error in errors] == ["id", "total"]
    assert "two" not in json.dumps(headers, default=str) and "lots" not in json.dumps(headers, default=str)
    assert statistics["invalid"] == 1 and statistics["dead_lettered"] == 1 and statistics["handled"] == 1
    warnings = [message for message in logs.messages if "is invalid" in message]
    assert len(warnings) == 1, logs.messages
    assert not any("retrying" in message for message in logs.messages)


async def test_unannotated_handlers_get_what_the_codec_produced() -> None:
    service = Shop()
    use_in_memory(service)
    async with serving(service):
        await service.bus.outputs["raw"].push({"anything": [1, 2]})
        await wait_until(lambda: service.raw == [{"anything": [1, 2]}], 5, "the raw body")


async def test_a_request_handler_answers_with_a_model() -> None:
    service = Shop()
    use_in_memory(service)
    async with serving(service):
        answer = await service.bus.outputs["questions"].request({"id": 7, "total": 12}, timeout=5)
    assert answer == {"order_id": 7, "accepted": True}


async def test_async_for_over_a_typed_input_yields_models() -> None:
    service = Shop()
    broker = use_in_memory(service)
    async with serving(service):
        await service.bus.outputs["events"].push({"kind": "opened"})
        await service.bus.outputs["events"].push({"kind": 3})
        await wait_until(lambda: service.seen == [Event("opened")], 5, "the event as a dataclass")
        dead = await broker.wait_dead_letters("events", 1)
    assert json.loads(dead[0].headers[VALIDATION_ERRORS_HEADER])[0]["loc"] == "kind"


def test_payload_types_of_inputs_and_outputs() -> None:
    service = Shop()
    inputs = service.bus.inputs
    assert inputs["orders"].payload_type().annotation is Order  # type: ignore[attr-defined]
    assert inputs["events"].payload_type().annotation is Event  # type: ignore[attr-defined]
    assert inputs["raw"].payload_type() is None  # type: ignore[attr-defined]
    assert inputs["questions"].reply_payload_type().annotation is Receipt  # type: ignore[attr-defined]
    assert service.bus.outputs["orders"].declared_payload_type().annotation is Order  # type: ignore[attr-defined]
