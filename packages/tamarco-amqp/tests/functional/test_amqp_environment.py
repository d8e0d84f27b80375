"""A resource with no address settings connects to the broker `tamarco-harness up` printed
(TAMARCO_AMQP_URL); settings that name an address win over it."""

from __future__ import annotations

import pytest
from tamarco.core.microservice import MicroserviceContext
from tamarco.core.settings import Settings, SettingsView
from tamarco.harness.messaging_suite import wait_until
from tamarco.resources.io.amqp import AMQPOutput, AMQPPullInput, AMQPResource

pytestmark = pytest.mark.functional


def service(environ, amqp_settings):
    resource = AMQPResource(outputs=[AMQPOutput("greetings")])
    service_class = type("EnvService", (MicroserviceContext,), {"name": "amqp_env", "amqp": resource})
    instance = service_class(environ=environ)
    instance.settings.update_internal({"system": {"resources": {"amqp": amqp_settings}}})
    return instance, resource


async def test_the_printed_variables_connect_a_resource_without_address_settings(rabbitmq_service, unique_name):
    heard = []

    async def collect(message):
        heard.append(message)

    instance, resource = service(rabbitmq_service.env(), {"queues_prefix": f"{unique_name}."})
    resource.add_input(AMQPPullInput("greetings", on_message=collect))
    async with instance:
        assert resource.config().address == f"{rabbitmq_service.host}:{rabbitmq_service.port}/"
        await resource.outputs["greetings"].push("hi")
        await wait_until(lambda: heard == ["hi"], what="the message through the broker from TAMARCO_AMQP_URL")


async def test_address_settings_win_over_the_environment():
    environ = {"TAMARCO_AMQP_URL": "amqp://u:p@from-env:1234/"}
    for amqp, address in [({"host": "from-settings"}, "from-settings:5672/"), ({}, "from-env:1234/")]:
        settings = Settings("amqp_env", environ=environ)
        settings.update_internal({"system": {"resources": {"amqp": amqp}}})
        await settings.start()
        resource = AMQPResource()
        await resource.configure_settings(SettingsView(settings, "system.resources.amqp"))
        assert resource.config().address == address
