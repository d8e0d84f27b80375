"""Third-party loggers a resource declares (aio-pika, aiokafka...) go through the service's
outputs at a sensible floor; the service can ask for their full chatter by naming them."""

from __future__ import annotations

import logging

import pytest
from tamarco.core.microservice import MicroserviceContext
from tamarco.resources.bases import BaseResource


class Chatty(BaseResource):
    library_loggers = {"fakelib": logging.WARNING}


def service(*extra: str) -> MicroserviceContext:
    service_class = type(
        "Routing", (MicroserviceContext,), {"name": "routing", "chatty": Chatty(), "extra_loggers_names": list(extra)}
    )
    instance = service_class(environ={})
    instance.settings.update_internal({"system": {"logging": {"profile": "DEVELOP", "stdout": True}}})
    return instance


async def test_a_library_logger_goes_through_the_service_outputs_at_warning(capsys: pytest.CaptureFixture[str]) -> None:
    library = logging.getLogger("fakelib")
    async with service() as instance:
        stdout_handler = instance.logging._outputs["stdout"][1]
        assert stdout_handler in library.handlers and library.propagate is False
        assert not library.isEnabledFor(logging.INFO)  # DEVELOP is DEBUG: the library's chatter stays out
        logging.getLogger("fakelib.connection").warning("connection lost")
        logging.getLogger("fakelib.connection").info("frame sent")
        out = capsys.readouterr().out
    assert "connection lost" in out and "fakelib.connection" in out and "frame sent" not in out, out
    assert library.handlers == [] and library.propagate is True  # given back after the stop


async def test_naming_a_library_logger_in_extra_loggers_names_gives_it_the_profile_level() -> None:
    async with service("fakelib"):
        assert logging.getLogger("fakelib").isEnabledFor(logging.DEBUG)
