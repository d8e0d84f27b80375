"""The Kafka transport: one producer for outputs and dead letters, one group member per input."""

from __future__ import annotations

import asyncio
import collections
import logging
from collections.abc import Coroutine, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import (
    AuthenticationFailedError,
    IllegalSaslStateError,
    KafkaError,
    MessageSizeTooLargeError,
    SaslAuthenticationFailed,
    UnsupportedSaslMechanismError,
)
from aiokafka.protocol.metadata import MetadataRequest
from tamarco.core.deadlines import close_within, within
from tamarco.core.messaging import (
    AuthenticationError,
    MessagingError,
    NotConnectedError,
    PublishError,
    SendTracker,
)
from tamarco.resources.io.kafka._appender import Appender
from tamarco.resources.io.kafka._config import KafkaConfig
from tamarco.resources.io.kafka._delivery import encode_headers
from tamarco.resources.io.kafka._group import GroupConsumer
from tamarco.resources.io.kafka.input import KafkaInput

if TYPE_CHECKING:
    from tamarco.core.messaging import ConnectionListener, Consumer, Delivery, MessageOutput, SendPattern

__all__ = ["KafkaTransport", "TopicNotFoundError"]

#: Fire-and-forget sends kept before a sweep settles the answered ones.
_SWEEP_EVERY = 1000
#: Seconds the stop waits for the producer's pending batches.
_FLUSH_TIMEOUT = 5.0

_AUTH_ERRORS = (
    SaslAuthenticationFailed,
    AuthenticationFailedError,
    UnsupportedSaslMechanismError,
    IllegalSaslStateError,
)
_UNKNOWN_TOPIC = 3  # UNKNOWN_TOPIC_OR_PARTITION


class TopicNotFoundError(MessagingError):
    """A topic the resource needs does not exist (and the broker did not create it)."""


class KafkaTransport:
    """A :class:`~tamarco.core.messaging.Transport` over aiokafka (see docs/kafka.md).

    ``topics`` are checked when connecting (inputs' and outputs' topics): a missing one, with
    auto-creation off on the broker or in ``auto_create_topics``, is a :class:`TopicNotFoundError`
    naming it. ``request``/``reply`` are not supported: Kafka has no request/response.
    """

    kind = "kafka"

    def __init__(
        self,
        config: KafkaConfig | None = None,
        *,
        topics: Iterable[str] = (),
        resource_name: str = "kafka",
        join_timeout: float = 10.0,
        logger: logging.Logger | None = None,
    ) -> None:
        self.config = config or KafkaConfig()
        self.topics = sorted(set(topics))
        self.resource_name = resource_name
        self.join_timeout = join_timeout
        self.logger = logger or logging.getLogger("tamarco.kafka")
        self.connected = False
        self.producer: AIOKafkaProducer | None = None
        self.groups: dict[str, GroupConsumer] = {}
        self._listener: ConnectionListener | None = None
        self._watcher: asyncio.Task[None] | None = None
        self.send_failures = 0
        #: Fire-and-forget sends not swept yet (see :meth:`sweep_sends`).
        self._sends: collections.deque[tuple[asyncio.Future[Any], SendTracker]] = collections.deque()
        #: The one way into the producer's ``send`` (see ``_appender``).
        self._appender: Appender | None = None

    # -- connection ---------------------------------------------------------------------------

    def describe(self) -> dict[str, object]:
        info = self.config.describe()
        info["connected"] = self.connected
        info["groups"] = {name: group.describe() for name, group in sorted(self.groups.items())}
        return info

    def set_connection_listener(self, listener: ConnectionListener | None) -> None:
        self._listener = listener

    async def connect(self) -> None:
        if self.config.sasl_mechanism is not None:
            await self._check_credentials()
        producer = AIOKafkaProducer(**self.config.producer_kwargs())
        try:
            await producer.start()
            if self.topics:
                await self._check_topics(producer, self.topics)
        except BaseException:
            await producer.stop()
            raise
        self.producer = producer
        self.connected = True
        self._watcher = asyncio.get_running_loop().create_task(
            self._watch(), name=f"tamarco:kafka:{self.resource_name}:health"
        )

    async def _check_credentials(self) -> None:
        """aiokafka logs refused credentials and reports only 'unable to bootstrap': one
        connection of our own tells them apart, so they fail at once (not retried)."""
        from aiokafka.conn import create_conn

        config = self.config
        for server in config.bootstrap_servers:
            host, _, port = server.rpartition(":") if ":" in server else (server, "", "9092")
            try:
                connection = await create_conn(
                    host,
                    int(port),
                    client_id=config.client_id,
                    ssl_context=config.ssl_context,
                    security_protocol=config.security_protocol,
                    sasl_mechanism=config.sasl_mechanism,
                    sasl_plain_username=config.sasl_username,
                    sasl_plain_password=config.sasl_password,
                )
            except _AUTH_ERRORS as error:
                raise AuthenticationError(
                    f"resource {self.resource_name}: {server} refused the credentials of user "
                    f"{config.sasl_username!r} ({config.sasl_mechanism}; {type(error).__name__})"
                ) from None
            except (TimeoutError, OSError, KafkaError, ValueError):
                continue  # unreachable: the producer's bootstrap reports it
            connection.close()
            return

    async def _check_topics(self, producer: AIOKafkaProducer, topics: list[str]) -> None:
        client = producer.client
        request = MetadataRequest(list(topics), allow_auto_topic_creation=self.config.auto_create_topics)
        response = await client.send(client.get_random_node(), request)
        missing = sorted(topic for error, topic, *_ in response.topics if error == _UNKNOWN_TOPIC)
        if missing:
            how = (
                "the broker does not create topics" if self.config.auto_create_topics else "auto_create_topics is false"
            )
            raise TopicNotFoundError(
                f"resource {self.resource_name}: topic(s) {', '.join(repr(t) for t in missing)} do not exist "
                f"on {self.config.address} ({how}): create them"
            )

    async def _watch(self) -> None:
        """Tell the resource when the broker stops answering and when it is back."""
        interval = self.config.health_check_interval
        healthy = True
        while True:
            await asyncio.sleep(interval)
            producer = self.producer
            if producer is None:
                return
            self.sweep_sends()
            reason = None
            try:
                await within(producer.client.fetch_all_metadata(), max(interval, 1.0))
                ok = True
            except (TimeoutError, KafkaError, OSError) as error:
                ok = False
                reason = f"{self.config.address} does not answer ({type(error).__name__})"
            if ok != healthy:
                healthy = ok
                self.connected = ok
                if self._listener is not None:
                    self._listener(ok, reason)

    async def close(self) -> None:
        watcher, self._watcher = self._watcher, None
        if watcher is not None:
            watcher.cancel()
            await asyncio.gather(watcher, return_exceptions=True)
        groups, self.groups = list(self.groups.values()), {}
        for group in groups:
            try:
                await group.close()
            except Exception as error:
                self.logger.warning(
                    "resource %s: closing input %s failed: %s", self.resource_name, group.input.name, error
                )
        producer, self.producer = self.producer, None
        self.connected = False
        if producer is not None:
            stop_timeout = _FLUSH_TIMEOUT
            try:
                # Sends still in the producer's batches get a bounded time to be delivered (a
                # broker that is gone would hold the stop up to the request timeout otherwise).
                await within(producer.flush(), _FLUSH_TIMEOUT)
            except (TimeoutError, KafkaError) as error:
                stop_timeout = 1.0  # the broker is not answering: do not wait for it twice
                self.logger.warning(
                    "resource %s: messages sent but not yet acknowledged by %s may be lost (%s)",
                    self.resource_name,
                    self.config.address,
                    type(error).__name__,
                )
            finally:
                failure = await close_within(producer.stop(), stop_timeout)
                if failure is not None:
                    self.logger.warning(
                        "resource %s: the producer did not close cleanly (%s)", self.resource_name, failure
                    )
                await asyncio.sleep(0)  # let the last futures resolve
                self.sweep_sends()

    # -- consuming ----------------------------------------------------------------------------

    async def consume(self, input_: KafkaInput[Any], consumer: Consumer[Any]) -> GroupConsumer:
        if self.producer is None:
            raise NotConnectedError(f"resource {self.resource_name}: not connected")
        group_id = input_.group_id or self.config.default_group or self.config.client_id
        group = GroupConsumer(
            input_, consumer, self.config, group_id=group_id, resource_name=self.resource_name, logger=self.logger
        )
        await group.start()
        self.groups[str(input_.name)] = group
        return group

    async def wait_joined(self) -> None:
        """Wait (up to ``join_timeout``) until every input joined its group, all at once: a
        broker may delay each new group's first join by seconds."""
        await asyncio.gather(*(group.wait_joined(self.join_timeout) for group in self.groups.values()))

    # -- producing ----------------------------------------------------------------------------

    def appender_for(self, topic: str) -> Appender:
        producer = self.producer
        if producer is None:
            raise NotConnectedError(f"resource {self.resource_name}: cannot produce to {topic!r}, not connected")
        appender = self._appender
        if appender is None or appender.producer is not producer:
            appender = self._appender = Appender(producer)
        return appender

    async def produce(
        self,
        topic: str,
        body: bytes,
        *,
        key: str | bytes | None = None,
        headers: Mapping[str, object] | None = None,
    ) -> Any:
        """Produce ``body`` to ``topic`` and wait for the broker's acknowledgement (its metadata)."""
        appender = self.appender_for(topic)
        try:
            return await appender.send(
                topic,
                body,
                key.encode("utf-8") if isinstance(key, str) else key,
                encode_headers(headers) if headers else None,
                wait=True,
            )
        except KafkaError as error:
            raise self.publish_error(topic, body, error) from None

    def publish_error(self, topic: str, body: bytes, error: KafkaError) -> PublishError:
        if isinstance(error, MessageSizeTooLargeError):
            limit = self.config.producer.get("max_request_size", 1048576)
            return PublishError(
                f"resource {self.resource_name}: a message of {len(body)} bytes to topic {topic!r} is over "
                f"the producer's max_request_size ({limit} bytes; setting "
                f"system.resources.{self.resource_name}.producer.max_request_size)"
            )
        return PublishError(
            f"resource {self.resource_name}: topic {topic!r} did not take the message ({type(error).__name__}: {error})"
        )

    def send(
        self,
        output: MessageOutput,
        pattern: SendPattern,
        body: bytes,
        *,
        key: str | None,
        headers: Mapping[str, object] | None,
    ) -> Coroutine[Any, Any, Any]:
        # The coroutine of ``produce`` itself: one frame less on every acknowledged send.
        return self.produce(output.destination, body, key=key, headers=headers)

    async def enqueue(
        self,
        output: MessageOutput,
        body: bytes,
        *,
        key: str | None,
        headers: Mapping[str, object] | None,
        tracker: SendTracker,
    ) -> None:
        """Hand a message to the producer's batch (the fast path of ``KafkaOutput.send``); its
        outcome reaches ``tracker`` at the next sweep (no callback per message)."""
        topic = output.destination
        appender = self._appender
        if appender is None or appender.producer is not self.producer:
            appender = self.appender_for(topic)
        try:
            future = await appender.send(
                topic,
                body,
                key.encode("utf-8") if isinstance(key, str) else key,
                encode_headers(headers) if headers else None,
                wait=False,
            )
        except KafkaError as error:
            raise self.publish_error(topic, body, error) from None
        self.track(future, tracker)

    def track(self, future: asyncio.Future[Any], tracker: SendTracker) -> None:
        """A fire-and-forget send handed to the producer: its answer reaches ``tracker`` at a sweep."""
        sends = self._sends
        sends.append((future, tracker))
        if len(sends) % _SWEEP_EVERY == 0:  # every _SWEEP_EVERY sends, not every send while the oldest waits
            self.sweep_sends()

    def sweep_sends(self) -> None:
        """Settle the fire-and-forget sends the broker answered, oldest first: counted as
        published, or logged and counted as failed."""
        sends = self._sends
        published: dict[SendTracker, int] = {}
        current: SendTracker | None = None  # the tracker of the sends counted in ``count``
        count = 0
        while sends:
            future, tracker = sends[0]
            if not future.done():
                break
            sends.popleft()
            try:
                future.result()
            except (Exception, asyncio.CancelledError) as error:
                self._send_failed(tracker, error)
                continue
            if tracker is not current:
                if current is not None:
                    published[current] = published.get(current, 0) + count
                current, count = tracker, 0
            count += 1
        if current is not None:
            published[current] = published.get(current, 0) + count
        for tracker, answered in published.items():
            tracker.published(answered)

    def _send_failed(self, tracker: SendTracker, error: BaseException) -> None:
        self.send_failures += 1
        if isinstance(error, KafkaError):
            error = self.publish_error(tracker.destination, b"", error)
        self.logger.error(
            "resource %s: a message sent to topic %r was not delivered: %s",
            self.resource_name,
            tracker.destination,
            error if not isinstance(error, asyncio.CancelledError) else "cancelled",
        )
        tracker.failed()

    async def request(
        self, output: MessageOutput, body: bytes, *, timeout: float, headers: Mapping[str, object] | None
    ) -> bytes:
        raise MessagingError(
            f"resource {self.resource_name}: Kafka has no request/response; use a reply topic (output {output.name!r})"
        )

    async def dead_letter(self, input_: KafkaInput[Any], delivery: Delivery, headers: Mapping[str, object]) -> None:
        topic = input_.dead_letter_topic_for(delivery.source)
        position = delivery.position
        if isinstance(position, tuple) and len(position) == 2:
            headers = {**headers, "x-tamarco-partition": position[0], "x-tamarco-offset": position[1]}
        await self.produce(topic, delivery.body, key=delivery.key, headers=headers)
