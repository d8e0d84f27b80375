"""A service with a slow route, run as a subprocess by test_http_process.py.

Port from the HTTP_PORT environment variable. Prints IN_FLIGHT when /slow starts.
"""

import asyncio
import os

from sanic.response import text
from tamarco.core.microservice import Microservice
from tamarco.resources.io.http.resource import HTTPServerResource


class SlowService(Microservice):
    name = "slow_http_service"
    http_server = HTTPServerResource()

    def __init__(self):
        super().__init__()
        self.settings.update_internal(
            {
                "system": {
                    "resources": {
                        "http_server": {"port": int(os.environ["HTTP_PORT"])},
                        "tamarco_http_report_server": {"port": 0},
                    }
                }
            }
        )


ms = SlowService()


@ms.http_server.app.route("/slow")
async def slow(request):
    print("IN_FLIGHT", flush=True)
    await asyncio.sleep(float(request.args.get("seconds", "1")))
    return text("slow response")


if __name__ == "__main__":
    ms.run()
