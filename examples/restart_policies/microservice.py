"""Restart policies (the 0.1 documentation's §4.2.3) applied by the status resource.

``settings.yml`` next to this file holds the policies. The ``kafka`` resource here is a
stand-in for a client: it loses its "connection" once, a second after it started, and reports
FAILED; ``restart_resource_on_failure: ['kafka']`` makes the status resource restart it.
Run it with ``TAMARCO_YML_FILE=examples/restart_policies/settings.yml`` and press Ctrl-C.
"""

import asyncio

from tamarco.core.microservice import Microservice
from tamarco.resources.bases import BaseResource, StatusCodes


class FlakyConnection(BaseResource):
    """Starts, then fails once (like a client whose broker went away), then stays up."""

    def __init__(self):
        super().__init__()
        self.starts = 0

    async def start(self):
        self.starts += 1
        if self.starts == 1:
            asyncio.get_running_loop().call_later(1.0, self.lose_connection)
        await super().start()
        self.logger.info("resource %s started (start number %d)", self.name, self.starts)

    def lose_connection(self):
        self.logger.error("resource %s lost its connection", self.name)
        self.set_status(StatusCodes.FAILED)


class RestartPoliciesMicroservice(Microservice):
    name = "restart_policies_example"

    kafka = FlakyConnection()


if __name__ == "__main__":
    RestartPoliciesMicroservice().run()
