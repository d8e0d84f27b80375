"""``KafkaInput``: a consumer-group subscription to one topic, several topics or a pattern."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar, Unpack

from tamarco.codecs import Codec, JsonCodec
from tamarco.core.messaging import InputOptions, InputPattern, MessageInput, PayloadT

if TYPE_CHECKING:
    from tamarco.core.messaging import MessagingResource

__all__ = ["KafkaInput"]


class KafkaInput(MessageInput[PayloadT]):
    """Messages of ``topic`` (or ``topics``, or the topics matching ``topic_pattern``) for consumer
    group ``group_id`` (default: the service's name).

    The members of one group share the topic's partitions: each message is handled by one of
    them. Different groups each get every message (publish/subscribe). Inside a partition the
    messages are handled one at a time, in order; ``max_concurrency`` partitions are handled in
    parallel. Offsets are committed only up to the last message whose handler returned. A failed
    message is retried, then produced to ``dead_letter_topic`` (default ``<topic>.dlq``).

    As in 0.1: ``@KafkaInput(resource=kafka, topic="metrics", codec=JsonCodec)`` on a service
    method, or ``metrics = KafkaInput(topic="metrics")`` consumed with ``async for``.
    """

    pattern: ClassVar[InputPattern] = "pull"

    def __init__(
        self,
        topic: str | None = None,
        group_id: str | None = None,
        codec: Codec | None = JsonCodec,
        resource: MessagingResource | None = None,
        *,
        topics: Sequence[str] | None = None,
        topic_pattern: str | None = None,
        dead_letter_topic: str | None = None,
        **options: Unpack[InputOptions],
    ) -> None:
        given = [
            what for what, value in (("topic", topic), ("topics", topics), ("topic_pattern", topic_pattern)) if value
        ]
        if len(given) != 1:
            raise ValueError(f"KafkaInput: give exactly one of topic, topics or topic_pattern (got {given or 'none'})")
        if topics is not None:
            if isinstance(topics, str) or not all(isinstance(item, str) and item for item in topics):
                raise ValueError(f"KafkaInput: topics must be a list of non-empty strings, got {topics!r}")
            self.topics: tuple[str, ...] = tuple(topics)
            source = ",".join(self.topics)
        elif topic_pattern is not None:
            try:
                re.compile(topic_pattern)
            except re.error as error:
                raise ValueError(
                    f"KafkaInput: topic_pattern {topic_pattern!r} is not a regular expression: {error}"
                ) from None
            self.topics = ()
            source = topic_pattern
        else:
            assert topic is not None
            self.topics = (topic,)
            source = topic
        self.topic_pattern = topic_pattern
        if group_id is not None and (not isinstance(group_id, str) or not group_id):
            raise ValueError(f"KafkaInput {source!r}: group_id must be a non-empty string, got {group_id!r}")
        self.group_id = group_id
        self.dead_letter_topic = dead_letter_topic
        super().__init__(source, codec=codec, resource=resource, **options)

    @property
    def topic(self) -> str | None:
        """The topic, when the input reads exactly one."""
        return self.topics[0] if len(self.topics) == 1 else None

    def dead_letter_topic_for(self, topic: str) -> str:
        """Where failed messages of ``topic`` go."""
        return self.dead_letter_topic or f"{topic}.dlq"
