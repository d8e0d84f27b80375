"""An output's way into the producer, for ``KafkaOutput.send`` and ``push``.

What a message needs besides its bytes — the connected transport's :class:`Appender`, the
output's topic, its :class:`SendTracker` and meters, how a failure reads to the sender — is the
same for every message of an output until the connection changes: :meth:`KafkaResource.lane
<tamarco.resources.io.kafka.KafkaResource.lane>` builds a :class:`Lane` once and checks per
message only that the resource is still sending on the same producer. A send then costs one
coroutine of ours (the output's) around the producer's, not four.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aiokafka.errors import KafkaError

if TYPE_CHECKING:
    from tamarco.core.messaging import SendTracker
    from tamarco.core.messaging._meters import OutputMeters
    from tamarco.resources.io.kafka._appender import Appender
    from tamarco.resources.io.kafka._transport import KafkaTransport

__all__ = ["Lane"]


class Lane:
    """One output's producing state on one connection (see the module doc)."""

    __slots__ = (
        "_failed",
        "_push",
        "_send",
        "_send_error",
        "appender",
        "published",
        "sent",
        "topic",
        "tracker",
        "transport",
    )

    def __init__(
        self,
        transport: KafkaTransport,
        appender: Appender,
        topic: str,
        tracker: SendTracker,
        meters: OutputMeters | None,
        send_error: Callable[[Exception, str], Exception],
    ) -> None:
        self.transport = transport
        self.appender = appender
        self.topic = topic
        #: Where fire-and-forget outcomes go (swept by the transport).
        self.tracker = tracker
        #: Called once the broker acknowledged a pushed message (None: nothing counts them).
        self.published: Callable[[int], object] | None = meters.published.inc if meters is not None else None
        self._failed: Callable[[], object] | None = meters.failed.inc if meters is not None else None
        self._send_error = send_error
        #: ``sent(future, tracker)``: a fire-and-forget message handed to the producer; its answer
        #: reaches the tracker at a sweep.
        self.sent: Callable[[asyncio.Future[Any], SendTracker], None] = transport.track
        self._push = f"push to {topic!r}"
        self._send = f"send to {topic!r}"

    def send_failed(self, error: Exception, body: bytes) -> Exception:
        """A fire-and-forget send that could not even be buffered: counted, and as the sender sees it."""
        self.tracker.failed()
        return self._failure(error, body, self._send)

    def push_failed(self, error: Exception, body: bytes) -> Exception:
        """A pushed message the broker did not take: counted, and as the sender sees it."""
        if self._failed is not None:
            self._failed()
        return self._failure(error, body, self._push)

    def _failure(self, error: Exception, body: bytes, what: str) -> Exception:
        if isinstance(error, KafkaError):
            error = self.transport.publish_error(self.topic, body, error)
        return self._send_error(error, what)
