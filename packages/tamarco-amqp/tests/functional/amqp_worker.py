"""A service for the multi-process tests: ``amqp_worker.py PATTERN QUEUE DELAY``.

Consumes the logical queue QUEUE as a pull or subscription input and logs ``started <id>`` and
``handled <id>`` around a handler that sleeps DELAY seconds. Settings (the broker) come from
``TAMARCO_YML_FILE``.
"""

import asyncio
import sys

from tamarco.core.microservice import Microservice
from tamarco.resources.io.amqp import AMQPPullInput, AMQPResource, AMQPSubscriptionInput

PATTERN, QUEUE, DELAY = sys.argv[1], sys.argv[2], float(sys.argv[3])
INPUTS = {"pull": AMQPPullInput, "subscribe": AMQPSubscriptionInput}


class Worker(Microservice):
    name = "amqp_worker"
    amqp = AMQPResource()

    @INPUTS[PATTERN](resource=amqp, queue=QUEUE)
    async def handle(self, message):
        self.logger.info("started %s", message["id"])
        await asyncio.sleep(DELAY)
        self.logger.info("handled %s", message["id"])


if __name__ == "__main__":
    Worker().run()
