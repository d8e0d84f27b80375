"""One instance for ``benchmarks/scale_out.py``: a service consuming ``$SCALE_NAME`` — a RabbitMQ
queue (competing consumers) or a Kafka topic (consumer group ``$SCALE_NAME.group``) after
``$SCALE_BROKER`` — with ``max_concurrency`` 1 and a handler that either awaits 5 ms
(``$SCALE_HANDLER=io``) or computes for ``$SCALE_CPU_MS`` ms of CPU (``cpu``). It prints
``H <n> <partition> <time>`` once each message is handled (before the acknowledgement)."""

import asyncio
import os
import time
from typing import Any

from tamarco.core.messaging import Message
from tamarco.core.microservice import Microservice

BROKER = os.environ["SCALE_BROKER"]
NAME = os.environ["SCALE_NAME"]
HANDLER = os.environ.get("SCALE_HANDLER", "io")
CPU_SECONDS = float(os.environ.get("SCALE_CPU_MS", "2")) / 1000


async def handle(message: Message) -> None:
    if HANDLER == "io":
        await asyncio.sleep(0.005)
    else:
        end = time.process_time() + CPU_SECONDS
        while time.process_time() < end:
            pass
    position = message.position
    partition = position[0] if isinstance(position, tuple) else "-"
    print(f"H {message.body['n']} {partition} {time.time():.4f}", flush=True)


def service() -> Microservice:
    resource: Any
    if BROKER == "kafka":
        from tamarco.resources.io.kafka import KafkaInput, KafkaResource

        resource = KafkaResource([KafkaInput(NAME, group_id=f"{NAME}.group", max_concurrency=1, on_message=handle)])
    else:
        from tamarco.resources.io.amqp import AMQPPullInput, AMQPResource

        resource = AMQPResource([AMQPPullInput(queue=NAME, max_concurrency=1, on_message=handle)])
    return type("ScaleOutWorker", (Microservice,), {"name": "scale_out_worker", BROKER: resource})()


if __name__ == "__main__":
    service().run()
