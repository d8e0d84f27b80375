"""The shared behavioural suite of messaging transports (FastStream's ``tests/brokers/base`` idea).

Every transport of :mod:`tamarco.core.messaging` — the in-memory one, AMQP, Kafka, and any a
downstream project writes — passes the same tests of the delivery contract. To run them for a
transport, subclass :class:`MessagingSuite` in a test module and provide a ``messaging_case``
fixture returning a :class:`MessagingCase` for that transport::

    class TestMyTransport(MessagingSuite):
        @pytest.fixture
        def messaging_case(self, my_broker_service):
            return MyCase(my_broker_service)

A case makes the transport's resources, inputs and outputs, names fresh queues/topics, and reads
back dead letters. Tests that a transport cannot pass by design are skipped by the case's
``supports_*`` flags, and the docs of that transport say why.

One module per behaviour, each a class of tests a transport can also inherit alone:
``consume`` (:class:`ConsumeTests`), ``publish`` (:class:`PublishTests`), ``retries``
(:class:`RetryTests`), ``drain`` (:class:`DrainTests`), ``requests`` (:class:`RequestTests`),
``status`` (:class:`StatusTests`); ``_case`` holds the case and the helpers.
"""

from __future__ import annotations

from ._case import (
    FAST_RETRY,
    TIMEOUT,
    InMemoryCase,
    MemoryResource,
    MessagingCase,
    ReversedCodec,
    SuiteBase,
    running,
    wait_until,
)
from .consume import ConsumeTests
from .drain import DrainTests
from .publish import PublishTests
from .requests import RequestTests
from .retries import RetryTests
from .status import StatusTests

__all__ = [
    "FAST_RETRY",
    "TIMEOUT",
    "ConsumeTests",
    "DrainTests",
    "InMemoryCase",
    "MemoryResource",
    "MessagingCase",
    "MessagingSuite",
    "PublishTests",
    "RequestTests",
    "RetryTests",
    "ReversedCodec",
    "StatusTests",
    "SuiteBase",
    "running",
    "wait_until",
]


class MessagingSuite(ConsumeTests, PublishTests, RetryTests, DrainTests, RequestTests, StatusTests):
    """The delivery contract, as tests. Needs a ``messaging_case`` fixture (see the module doc)."""
