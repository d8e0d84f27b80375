"""Unit-test a service's message handlers without a broker (FastStream's TestBroker idea).

::

    from tamarco.core.messaging.testing import serving, use_in_memory

    async def test_cows_are_answered():
        service = MyService()
        broker = use_in_memory(service)          # every messaging resource -> one in-memory broker
        async with serving(service):
            assert await service.amqp.outputs["cows"].request({"cow": "MOO"}) == {"cat": "MEOW"}

The handlers, codecs, retries, dead-lettering and concurrency bound are the real ones (they are
the core's); only the broker is replaced. Functional tests against a real broker (the harness)
remain the reference for what the broker itself does.
"""

from __future__ import annotations

from typing import Any

from tamarco.core.messaging._resource import MessagingResource
from tamarco.core.messaging.memory import InMemoryBroker, InMemoryTransport
from tamarco.core.testing import serving

__all__ = ["serving", "use_in_memory"]  # serving: tamarco.core.testing's


def use_in_memory(service: Any, broker: InMemoryBroker | None = None) -> InMemoryBroker:
    """Give every :class:`MessagingResource` of ``service`` an in-memory transport on ``broker``
    (a new one by default, returned). Call before the service starts."""
    broker = broker or InMemoryBroker()
    found = False
    for resource in service.resources.values():
        if isinstance(resource, MessagingResource):
            resource.use_transport(InMemoryTransport(broker))
            found = True
    if not found:
        raise ValueError(f"service {service.name!r} has no messaging resource to put in memory")
    return broker
