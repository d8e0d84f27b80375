"""The naming schemes of AMQP exchanges and queues: the default one, and 0.1's (``naming: "0.1"``).

For a logical queue name ``cows``, the default scheme with ``queues_prefix: "dev."`` (the prefix
is put in front as it is):

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

The 0.1 plugin's scheme, with ``queues_prefix: "dev"`` (0.1 adds the dot, and only when the
prefix is not empty), so that ported and 0.1 services share one broker:

=========================  ===========================================  ==========================
pattern                    broker object                                properties
=========================  ===========================================  ==========================
push / pull                queue ``dev.push_pull.cows``                 durable, not exclusive,
                                                                        not auto-deleted;
                                                                        messages persistent
publish / subscribe        fanout exchange                              exchange *not* durable;
                           ``dev.publish_subscribe.cows``; each         messages not persistent;
                           subscriber's own queue, named at random      queue exclusive
request / response         queue ``dev.request_response.cows``          declared with defaults
                                                                        (not durable); answers
                                                                        to ``reply_to``
dead letters (any input)   queue ``dev.dead_letter.cows``               durable; persistent
=========================  ===========================================  ==========================

Every message of the 0.1 scheme has content type ``text/plain``, as 0.1 sent them. AMQP keeps
exchanges and queues in separate namespaces, so the fanout exchange and the push queue of one
name do not collide; a push never reaches subscribers and a publish never reaches pull inputs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["NAMING_SCHEMES", "AMQPNames", "NamingScheme"]

#: RabbitMQ's limit on queue and exchange names (a short string: 255 bytes).
MAX_NAME_BYTES = 255
NamingScheme = Literal["default", "0.1"]
NAMING_SCHEMES: tuple[NamingScheme, ...] = ("default", "0.1")


@dataclass(frozen=True)
class AMQPNames:
    """Broker names and declaration arguments of the logical queues of one resource."""

    prefix: str = ""
    scheme: NamingScheme = "default"

    @property
    def legacy(self) -> bool:
        """The 0.1 scheme."""
        return self.scheme == "0.1"

    def _name(self, name: str, pattern: str) -> str:
        if self.legacy:
            full = f"{self.prefix}.{pattern}.{name}" if self.prefix else f"{pattern}.{name}"
        else:
            full = f"{self.prefix}{name}"
        if len(full.encode("utf-8")) > MAX_NAME_BYTES:
            raise ValueError(f"AMQP name {full[:40]!r}... is longer than {MAX_NAME_BYTES} bytes")
        return full

    def push_queue(self, queue: str) -> str:
        """The durable queue of ``push`` and pull inputs."""
        return self._name(queue, "push_pull")

    def exchange(self, queue: str) -> str:
        """The fanout exchange of ``publish`` and subscription inputs."""
        return self._name(queue, "publish_subscribe")

    def subscriber_queue(self, queue: str, instance: str) -> str | None:
        """One subscribed resource's own queue, bound to :meth:`exchange` (None in the 0.1
        scheme: a random name, as the broker named them for 0.1)."""
        if self.legacy:
            return None
        return self._name(f"{queue}.subscriber.{instance}", "")

    def request_queue(self, queue: str) -> str:
        """The queue of request inputs."""
        if self.legacy:
            return self._name(queue, "request_response")
        return self._name(f"{queue}.request", "")

    def dead_letter_queue(self, queue: str) -> str:
        """Where the failed messages of the inputs of ``queue`` go."""
        if self.legacy:
            return self._name(queue, "dead_letter")
        return self._name(f"{queue}.dead", "")

    # -- declaration arguments ------------------------------------------------------------

    @property
    def exchange_durable(self) -> bool:
        """0.1 declared the fanout exchanges without ``durable``."""
        return not self.legacy

    @property
    def request_queue_durable(self) -> bool:
        """0.1 declared the request queues with the defaults (not durable)."""
        return not self.legacy

    @property
    def subscriber_queue_auto_delete(self) -> bool:
        """0.1's subscriber queues were exclusive only (deleted with their connection anyway)."""
        return not self.legacy

    @property
    def content_type(self) -> str | None:
        """The content type of every message sent: 0.1 sent ``text/plain``."""
        return "text/plain" if self.legacy else None
