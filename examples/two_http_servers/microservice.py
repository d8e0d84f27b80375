"""The 0.1 documentation's §3.7 example: two HTTP servers in one service, each configured by
its attribute name (``system.resources.recommendation_http_api`` and ``...billing_http_api``).

Neither server has routes yet: each starts with a warning and answers 404 until routes are
added with ``@<server>.app.route(...)``. Run it and press Ctrl-C to stop it.
"""

from tamarco.core.microservice import Microservice
from tamarco.resources.io.http.resource import HTTPServerResource


class MyMicroservice(Microservice):
    name = "settings_from_dictionary"

    recommendation_http_api = HTTPServerResource()
    billing_http_api = HTTPServerResource()

    def __init__(self):
        super().__init__()
        self.settings.update_internal(
            {
                "system": {
                    "deploy_name": "settings_documentation",
                    "logging": {
                        "profile": "PRODUCTION",
                    },
                    "resources": {
                        "recommendation_http_api": {"host": "127.0.0.1", "port": 8080, "debug": True},
                        "billing_http_api": {"host": "127.0.0.1", "port": 9090, "debug": False},
                    },
                }
            }
        )


if __name__ == "__main__":
    MyMicroservice().run()
