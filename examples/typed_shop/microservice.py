"""A typed service: handlers that receive pydantic models, over AMQP and Kafka, and its contract.

Run it with a settings file naming the brokers (``TAMARCO_YML_FILE=settings.yml``)::

    system:
      resources:
        amqp: {host: 127.0.0.1, port: 5672, queues_prefix: "dev."}
        kafka: {bootstrap_servers: "127.0.0.1:9092"}
        http_server: {port: 8080}

Its AsyncAPI document, without starting it::

    tamarco asyncapi examples/typed_shop/microservice.py:Shop --settings settings.yml

and while it runs: http://127.0.0.1:5747/asyncapi (also ``/asyncapi.json``, ``/asyncapi.yaml``),
its HTTP API at http://127.0.0.1:8080/openapi.json and ``/docs``. See docs/typed-services.md.
"""

from __future__ import annotations

import dataclasses

from pydantic import BaseModel, Field
from sanic.request import Request
from sanic.response import HTTPResponse, json
from tamarco.core.microservice import Microservice, task
from tamarco.resources.io.amqp import (
    AMQPOutput,
    AMQPPullInput,
    AMQPRequestInput,
    AMQPResource,
    AMQPSubscriptionInput,
)
from tamarco.resources.io.http.resource import HTTPServerResource
from tamarco.resources.io.kafka import KafkaInput, KafkaOutput, KafkaResource


class Item(BaseModel):
    """One line of an order."""

    sku: str = Field(min_length=1)
    quantity: int = Field(gt=0)


class Order(BaseModel):
    """An order placed by a customer."""

    id: int
    customer: str
    items: list[Item]


class Quote(BaseModel):
    """The price of an order."""

    order_id: int
    total: float


@dataclasses.dataclass
class PriceChanged:
    """A new price of a product."""

    sku: str
    price: float


class Shop(Microservice):
    """Takes orders over AMQP and Kafka, quotes them on request, follows price changes."""

    name = "shop"
    version = "1.0.0"

    price_changes = KafkaInput[PriceChanged](topic="prices")
    amqp = AMQPResource(outputs=[AMQPOutput[Order]("orders")])
    kafka = KafkaResource(inputs=[price_changes], outputs=[KafkaOutput[Quote]("quotes")])
    http_server = HTTPServerResource()

    def __init__(self) -> None:
        super().__init__()
        self.prices: dict[str, float] = {}

    @AMQPPullInput(resource=amqp, queue="orders")
    async def on_order(self, order: Order) -> None:
        self.logger.info("order %d from %s: %s", order.id, order.customer, type(order).__name__)

    @AMQPSubscriptionInput(resource=amqp, queue="announcements")
    async def on_announcement(self, announcement: dict) -> None:  # untyped: whatever the codec gives
        self.logger.info("announcement: %s", announcement)

    @AMQPRequestInput(resource=amqp, queue="quotes")
    async def quote(self, order: Order, response_handler: object) -> Quote:
        total = sum(self.prices.get(item.sku, 1.0) * item.quantity for item in order.items)
        return Quote(order_id=order.id, total=total)

    @KafkaInput(resource=kafka, topic="orders")
    async def on_kafka_order(self, order: Order) -> None:
        self.logger.info("kafka order %d from %s: %s", order.id, order.customer, type(order).__name__)
        await self.kafka.outputs["quotes"].push(Quote(order_id=order.id, total=0.0))

    @task
    async def follow_prices(self) -> None:
        async for change in self.price_changes:
            self.prices[change.sku] = change.price
            self.logger.info("price of %s is now %s: %s", change.sku, change.price, type(change).__name__)


@Shop.http_server.app.route("/prices/<sku:str>")
async def price(request: Request, sku: str) -> HTTPResponse:
    """The current price of a product."""
    return json({"sku": sku})


if __name__ == "__main__":
    Shop().run()
