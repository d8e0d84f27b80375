"""The one naming scheme of AMQP exchanges and queues (``queues_prefix`` in front of each).

For a logical queue name ``cows`` and ``queues_prefix: "dev."``:

=========================  =====================================  ===============================
pattern                    broker object                          properties
=========================  =====================================  ===============================
push / pull                queue ``dev.cows`` (default exchange)  durable; messages persistent
publish / subscribe        fanout exchange ``dev.cows``;          exchange durable; each
                           queue ``dev.cows.subscriber.<id>``     subscriber's queue exclusive,
                           per subscribed resource                auto-deleted
request / response         queue ``dev.cows.request``; answers    durable queue, transient
                           by direct reply-to                     requests expiring at timeout
dead letters (any input)   queue ``dev.cows.dead``                durable; messages persistent
=========================  =====================================  ===============================

AMQP keeps exchanges and queues in separate namespaces, so the fanout exchange and the push
queue of one name do not collide; a push never reaches subscribers and a publish never reaches
pull inputs, as in the in-memory transport.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["AMQPNames"]

#: RabbitMQ's limit on queue and exchange names (a short string: 255 bytes).
MAX_NAME_BYTES = 255


@dataclass(frozen=True)
class AMQPNames:
    """Broker names of the logical queues of one resource."""

    prefix: str = ""

    def _name(self, name: str) -> str:
        full = f"{self.prefix}{name}"
        if len(full.encode("utf-8")) > MAX_NAME_BYTES:
            raise ValueError(f"AMQP name {full[:40]!r}... is longer than {MAX_NAME_BYTES} bytes")
        return full

    def push_queue(self, queue: str) -> str:
        """The durable queue of ``push`` and pull inputs."""
        return self._name(queue)

    def exchange(self, queue: str) -> str:
        """The fanout exchange of ``publish`` and subscription inputs."""
        return self._name(queue)

    def subscriber_queue(self, queue: str, instance: str) -> str:
        """One subscribed resource's own queue, bound to :meth:`exchange`."""
        return self._name(f"{queue}.subscriber.{instance}")

    def request_queue(self, queue: str) -> str:
        """The queue of request inputs."""
        return self._name(f"{queue}.request")

    def dead_letter_queue(self, queue: str) -> str:
        """Where the failed messages of the inputs of ``queue`` go."""
        return self._name(f"{queue}.dead")
