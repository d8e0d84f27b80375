"""The fault suite's Kafka consumer: handles ``$FAULT_TOPIC`` in group ``$FAULT_GROUP`` and prints
``HANDLED <n>`` once the handler of message ``{"n": <n>}`` returned (before the commit).

``FAULT_FAIL=1``: the handler raises instead (after ``$FAULT_DELAY`` s), so every message is
dead-lettered to ``<topic>.dlq``.
"""

import asyncio
import os

from tamarco.core.microservice import Microservice
from tamarco.resources.io.kafka import KafkaInput, KafkaResource

TOPIC = os.environ["FAULT_TOPIC"]
GROUP = os.environ["FAULT_GROUP"]
DELAY = float(os.environ.get("FAULT_DELAY", "0"))
FAIL = os.environ.get("FAULT_FAIL") == "1"


class HandlerFailure(Exception):
    """The failure ``FAULT_FAIL`` asks for."""


class KafkaConsumerService(Microservice):
    name = "kafka_faults"

    kafka = KafkaResource()

    @KafkaInput(resource=kafka, topic=TOPIC, group_id=GROUP)
    async def handle(self, body: dict) -> None:
        if DELAY:
            await asyncio.sleep(DELAY)
        if FAIL:
            raise HandlerFailure(f"message {body['n']} always fails")
        print(f"HANDLED {body['n']}", flush=True)


if __name__ == "__main__":
    KafkaConsumerService().run()
