"""One of three services of the tracing test, by ``CHAIN_ROLE``:

- ``a``: HTTP ``POST /orders/<order:int>`` pushes ``{"order": n}`` to the AMQP queue ``$CHAIN_QUEUE``;
  ``GET /orders/<order:int>/done`` prints ``DONE <n>``;
- ``b``: consumes the queue, sends the order to the Kafka topic ``$CHAIN_TOPIC``;
- ``c``: consumes the topic (group ``$CHAIN_GROUP``), calls A's ``/orders/<n>/done`` over HTTP
  (``system.resources.a_client.base_url``).

Each handler logs one line naming its step; with tracing on, each line carries the trace.
"""

import os

from sanic.response import json
from tamarco.codecs import JsonCodec
from tamarco.core.microservice import Microservice
from tamarco.resources.io.amqp import AMQPOutput, AMQPPullInput, AMQPResource
from tamarco.resources.io.http.resource import HTTPClientResource, HTTPServerResource
from tamarco.resources.io.kafka import KafkaInput, KafkaOutput, KafkaResource

ROLE = os.environ["CHAIN_ROLE"]
QUEUE = os.environ["CHAIN_QUEUE"]
TOPIC = os.environ["CHAIN_TOPIC"]
GROUP = os.environ["CHAIN_GROUP"]


class ServiceA(Microservice):
    name = "chain_a"
    version = "1.0.0"
    http = HTTPServerResource()
    amqp = AMQPResource(outputs=[AMQPOutput(queue=QUEUE, codec=JsonCodec)])

    def __init__(self) -> None:
        super().__init__()

        @self.http.app.post("/orders/<order:int>")
        async def take(request, order):
            self.logger.info("step A: order %d taken", order)
            await self.amqp.outputs[QUEUE].push({"order": order})
            return json({"order": order}, status=202)

        @self.http.app.get("/orders/<order:int>/done")
        async def done(request, order):
            self.logger.info("step A: order %d done", order)
            print(f"DONE {order}", flush=True)
            return json({"order": order, "done": True})


class ServiceB(Microservice):
    name = "chain_b"
    amqp = AMQPResource()
    kafka = KafkaResource(outputs=[KafkaOutput(topic=TOPIC, codec=JsonCodec)])

    @AMQPPullInput(resource=amqp, queue=QUEUE, codec=JsonCodec)
    async def forward(self, message):
        self.logger.info("step B: order %d forwarded", message["order"])
        await self.kafka.outputs[TOPIC].push(message)


class ServiceC(Microservice):
    name = "chain_c"
    kafka = KafkaResource()
    a_client = HTTPClientResource()

    @KafkaInput(resource=kafka, topic=TOPIC, group_id=GROUP, codec=JsonCodec)
    async def notify(self, message):
        self.logger.info("step C: order %d notified", message["order"])
        async with self.a_client.session.get(f"/orders/{message['order']}/done") as response:
            response.raise_for_status()


if __name__ == "__main__":
    {"a": ServiceA, "b": ServiceB, "c": ServiceC}[ROLE]().run()
