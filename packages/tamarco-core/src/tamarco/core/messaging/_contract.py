"""What a messaging resource says about itself in the service's AsyncAPI document.

The generator (:mod:`tamarco.core.contracts.asyncapi`) knows no broker: it asks each
:class:`~tamarco.core.messaging.MessagingResource` for its servers
(:meth:`~tamarco.core.messaging.MessagingResource.contract_servers`) and, for each input and
output, the channels it reads or writes
(:meth:`~tamarco.core.messaging.MessagingResource.contract_channels`): the real broker address
under the resource's naming scheme and prefix, and the protocol's bindings. AMQP and Kafka
implement both; the base describes the logical queue/topic with no bindings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["ChannelDescription"]


@dataclass(frozen=True)
class ChannelDescription:
    """One broker object an input reads (``receive``) or an output writes (``send``).

    ``key`` tells the channels of one input/output apart (``"push"``, ``"publish"``...);
    ``reply``: the operation expects an answer (a request), sent back to the address the
    request names in ``reply_location`` (an AsyncAPI runtime expression).
    """

    key: str
    address: str | None
    action: Literal["send", "receive"]
    description: str = ""
    channel_bindings: dict[str, Any] = field(default_factory=dict)
    operation_bindings: dict[str, Any] = field(default_factory=dict)
    message_bindings: dict[str, Any] = field(default_factory=dict)
    reply: bool = False
    reply_location: str = "$message.header#/reply_to"
    #: Where the failed messages of an input go (shown as ``x-tamarco-dead-letter``).
    dead_letter: str | None = None
