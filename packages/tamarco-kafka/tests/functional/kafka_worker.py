"""A consumer service for the multi-process tests: handles ``$KAFKA_TEST_TOPIC`` in group
``$KAFKA_TEST_GROUP``, taking ``$KAFKA_TEST_DELAY`` seconds per message, and prints
``HANDLED <n> <partition> <offset>`` once a handler finished (before the commit)."""

import asyncio
import os

from tamarco.core.messaging import Message
from tamarco.core.microservice import Microservice
from tamarco.resources.io.kafka import KafkaInput, KafkaResource

TOPIC = os.environ["KAFKA_TEST_TOPIC"]
GROUP = os.environ["KAFKA_TEST_GROUP"]
DELAY = float(os.environ.get("KAFKA_TEST_DELAY", "0"))


class KafkaWorker(Microservice):
    name = "kafka_worker"

    kafka = KafkaResource()

    @KafkaInput(resource=kafka, topic=TOPIC, group_id=GROUP, max_concurrency=4)
    async def handle(self, message: Message) -> None:
        if DELAY:
            await asyncio.sleep(DELAY)
        partition, offset = message.position
        print(f"HANDLED {message.body['n']} {partition} {offset}", flush=True)


if __name__ == "__main__":
    KafkaWorker().run()
