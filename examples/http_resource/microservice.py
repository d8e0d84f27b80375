"""The reference example ("settings from a dictionary", 0.1 docs 3.5.3), runnable as written.

Run it from the repository root with ``./dev hatch run python examples/http_resource/microservice.py``
(or ``.venv/bin/python examples/http_resource/microservice.py``), then open http://127.0.0.1:8080/.
Stop it with Ctrl-C. Settings in a file named by ``TAMARCO_YML_FILE`` override the dictionary
(the tests use that to pick a free port).
"""

import asyncio  # noqa: F401  (kept as in the reference)

from sanic.response import text
from tamarco.core.microservice import Microservice, MicroserviceContext, thread  # noqa: F401
from tamarco.resources.io.http.resource import HTTPClientResource, HTTPServerResource  # noqa: F401


class HTTPMicroservice(Microservice):
    name = "settings_from_dictionary"
    http_server = HTTPServerResource()

    def __init__(self):
        super().__init__()
        self.settings.update_internal(
            {
                "system": {
                    "deploy_name": "settings_documentation",
                    "logging": {
                        "profile": "PRODUCTION",
                    },
                    "resources": {"http_server": {"host": "127.0.0.1", "port": 8080, "debug": True}},
                }
            }
        )


ms = HTTPMicroservice()


@ms.http_server.app.route("/")
async def index(request):
    print("Requested /")
    return text("Hello world!")


def main():
    ms.run()


if __name__ == "__main__":
    main()
