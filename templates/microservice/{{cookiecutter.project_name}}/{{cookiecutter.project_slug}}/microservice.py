"""The {{ cookiecutter.project_name }} microservice: an HTTP API whose handlers call ``logic/``."""

from typing import Any

from sanic.exceptions import BadRequest
from sanic.request import Request
from sanic.response import HTTPResponse, json
from tamarco.core.microservice import Microservice
from tamarco.resources.io.http.resource import HTTPServerResource

from {{ cookiecutter.project_slug }}.logic.greetings import InvalidName, greet
from {{ cookiecutter.project_slug }}.meters import greetings, rejected_names
from {{ cookiecutter.project_slug }}.models import Greeting, GreetingRequest


class MyMicroservice(Microservice):
    name = "{{ cookiecutter.project_slug }}"

    #: The service's API; its settings are ``system.resources.api`` (host, port, ...).
    api = HTTPServerResource()

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # Defaults; settings.yml, deploy/settings.yml or etcd override them.
        self.settings.update_internal(
            {
                "system": {
                    "shutdown_timeout_seconds": {{ cookiecutter.shutdown_timeout_seconds }},
                    "resources": {"api": {"host": "127.0.0.1", "port": {{ cookiecutter.http_port }}}},
                }
            }
        )
        self.api.add_endpoint("/greetings/<name:str>", self.greeting)
        self.api.add_endpoint("/greetings", self.greeting_from_body, methods=("POST",))

    async def greeting(self, request: Request, name: str) -> HTTPResponse:
        try:
            message = greet(name)
        except InvalidName as error:
            rejected_names.inc()
            return json({"error": str(error)}, status=400)
        greetings.inc()
        return json({"message": message})

    async def greeting_from_body(self, request: Request, body: GreetingRequest) -> Greeting:
        """A typed handler: the JSON body arrives validated as a ``GreetingRequest`` (an invalid
        one is answered 422 with the field paths), the ``Greeting`` returned is sent as JSON."""
        try:
            message = greet(body.name)
        except InvalidName as error:
            rejected_names.inc()
            raise BadRequest(str(error)) from None
        greetings.inc()
        return Greeting(message=message)


def main() -> None:
    MyMicroservice().run()
