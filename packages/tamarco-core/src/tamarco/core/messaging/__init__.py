"""Messaging: one seam, several transports (AMQP, Kafka, in-memory).

A messaging resource (:class:`MessagingResource`) holds inputs (:class:`MessageInput`) and
outputs (:class:`MessageOutput`) over one broker connection, a :class:`Transport`. The delivery
contract is the core's and the same for every transport (see ``_consumer``): acknowledged only
after the handler returned (at-least-once), bounded concurrency, retries with a delay, then
dead-lettering; undecodable payloads dead-lettered at once; draining on stop.
:class:`InMemoryTransport` stands in for a broker in unit tests. See docs/messaging.md.
"""

from tamarco.core.messaging._consumer import ERROR_HEADERS, Consumer
from tamarco.core.messaging._contract import ChannelDescription
from tamarco.core.messaging._input import (
    InputOptions,
    InputPattern,
    MessageInput,
    MessageOutput,
    PayloadT,
    PullInput,
    RequestInput,
    ResponseHandler,
    SubscriptionInput,
)
from tamarco.core.messaging._limiter import ConcurrencyLimiter
from tamarco.core.messaging._message import Delivery, Message, PositionalRun, Settlement
from tamarco.core.messaging._policy import DEFAULT_MAX_CONCURRENCY, DeliveryPolicy, RetryPolicy, resolve_policy
from tamarco.core.messaging._resource import DEFAULT_CONNECTION_TIMEOUT, DEFAULT_DRAIN_TIMEOUT, MessagingResource
from tamarco.core.messaging._transport import (
    ConfirmedEnqueue,
    ConnectionListener,
    SendPattern,
    SendTracker,
    Subscription,
    Transport,
)
from tamarco.core.messaging.errors import (
    AuthenticationError,
    HandlerTimeoutError,
    MessagingError,
    MessagingSettingsError,
    NotConnectedError,
    PublishError,
    RequestTimeoutError,
)
from tamarco.core.messaging.memory import DeadLetter, InMemoryBroker, InMemoryDelivery, InMemoryTransport

__all__ = [
    "DEFAULT_CONNECTION_TIMEOUT",
    "DEFAULT_DRAIN_TIMEOUT",
    "DEFAULT_MAX_CONCURRENCY",
    "ERROR_HEADERS",
    "AuthenticationError",
    "ChannelDescription",
    "ConcurrencyLimiter",
    "ConfirmedEnqueue",
    "ConnectionListener",
    "Consumer",
    "DeadLetter",
    "Delivery",
    "DeliveryPolicy",
    "HandlerTimeoutError",
    "InMemoryBroker",
    "InMemoryDelivery",
    "InMemoryTransport",
    "InputOptions",
    "InputPattern",
    "Message",
    "MessageInput",
    "MessageOutput",
    "MessagingError",
    "MessagingResource",
    "MessagingSettingsError",
    "NotConnectedError",
    "PayloadT",
    "PositionalRun",
    "PublishError",
    "PullInput",
    "RequestInput",
    "RequestTimeoutError",
    "ResponseHandler",
    "RetryPolicy",
    "SendPattern",
    "SendTracker",
    "Settlement",
    "Subscription",
    "SubscriptionInput",
    "Transport",
    "resolve_policy",
]
