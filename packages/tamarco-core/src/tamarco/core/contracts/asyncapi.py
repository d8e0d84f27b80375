"""The AsyncAPI 3.0 document of a service: what it reads and writes, on which broker objects,
with which payloads.

Built from the service's declarations alone (no broker, no start): one channel per broker object
of each input and output (the address is the real queue, exchange or topic name under the
resource's naming scheme and prefix, with the protocol's bindings, as each messaging resource
describes it through :meth:`~tamarco.core.messaging.MessagingResource.contract_channels`), a
``receive`` operation per input channel and a ``send`` operation per output channel, request /
reply for requests, messages whose payload is the JSON Schema of the handler's payload type (no
schema for untyped ones) and the codec's content type, the servers from the resources' settings
(never credentials), and the service's name, ``version`` and docstring as ``info``.

``tamarco asyncapi module:ServiceClass`` prints it; the running service serves it at the
report server's ``/asyncapi.json``, ``/asyncapi.yaml`` and ``/asyncapi`` (HTML).
"""

from __future__ import annotations

import json
import re
from typing import Any

from tamarco.core import payloads
from tamarco.core.contracts._schemas import SchemaRegistry
from tamarco.core.contracts._service import service_info
from tamarco.core.messaging import ChannelDescription, MessageInput, MessageOutput, MessagingResource

__all__ = ["ASYNCAPI_VERSION", "asyncapi_document", "dump"]

ASYNCAPI_VERSION = "3.0.0"
_KEY = re.compile(r"[^\w.\-]")


def _key(*parts: str) -> str:
    """A component key (``^[\\w\\d.\\-_]+$``) from names that may hold other characters."""
    return _KEY.sub("_", ".".join(part for part in parts if part))


def asyncapi_document(service: Any) -> dict[str, Any]:
    """The AsyncAPI 3.0.0 document of ``service`` (an instance whose resources have their
    settings: a running service, or :func:`~tamarco.core.contracts.service_with_settings`)."""
    builder = _Builder()
    for name, resource in sorted(service.resources.items()):
        if not isinstance(resource, MessagingResource):
            continue
        servers = resource.contract_servers()
        builder.servers.update(servers)
        server_refs = [{"$ref": f"#/servers/{server}"} for server in servers]
        ios: list[MessageInput | MessageOutput] = [io for _, io in resource.message_inputs()]
        ios += [io for io in resource.outputs.values() if isinstance(io, MessageOutput)]
        for io in ios:
            for channel in resource.contract_channels(io):
                builder.add(name, io, channel, server_refs)
    document: dict[str, Any] = {
        "asyncapi": ASYNCAPI_VERSION,
        "info": service_info(service),
        "defaultContentType": "application/json",
    }
    if builder.servers:
        document["servers"] = builder.servers
    document["channels"] = builder.channels
    document["operations"] = builder.operations
    components: dict[str, Any] = {}
    if builder.messages:
        components["messages"] = builder.messages
    if builder.schemas.schemas:
        components["schemas"] = dict(sorted(builder.schemas.schemas.items()))
    if components:
        document["components"] = components
    return document


class _Builder:
    """The channels, operations, messages and schemas of the document being built."""

    def __init__(self) -> None:
        self.schemas = SchemaRegistry()
        self.servers: dict[str, Any] = {}
        self.channels: dict[str, Any] = {}
        self.operations: dict[str, Any] = {}
        self.messages: dict[str, Any] = {}

    def add(
        self,
        resource: str,
        io: MessageInput | MessageOutput,
        channel: ChannelDescription,
        server_refs: list[dict[str, str]],
    ) -> None:
        """One channel of ``io`` and its operation (and reply channel, for a request)."""
        kind = io.payload_type() if isinstance(io, MessageInput) else io.declared_payload_type()
        channel_key = _key(resource, str(io.name), channel.key)
        message_key, message_ref = self._message(resource, io, channel, kind, "message")
        channel_object: dict[str, Any] = {"address": channel.address, "messages": {message_key: message_ref}}
        if channel.description:
            channel_object["description"] = channel.description
        if server_refs:
            channel_object["servers"] = server_refs
        if channel.channel_bindings:
            channel_object["bindings"] = channel.channel_bindings
        self.channels[channel_key] = channel_object
        operation: dict[str, Any] = {
            "action": channel.action,
            "channel": {"$ref": f"#/channels/{channel_key}"},
            "messages": [{"$ref": f"#/channels/{channel_key}/messages/{message_key}"}],
        }
        if channel.operation_bindings:
            operation["bindings"] = channel.operation_bindings
        if channel.dead_letter is not None:
            operation["x-tamarco-dead-letter"] = channel.dead_letter
        if channel.reply:
            reply_kind = io.reply_payload_type() if isinstance(io, MessageInput) else None
            reply_key, reply_ref = self._message(resource, io, channel, reply_kind, "reply")
            reply_channel = f"{channel_key}.reply"
            self.channels[reply_channel] = {
                "address": None,
                "description": "the requester's own reply address, given in each request",
                "messages": {reply_key: reply_ref},
            }
            operation["reply"] = {
                "address": {"location": channel.reply_location},
                "channel": {"$ref": f"#/channels/{reply_channel}"},
                "messages": [{"$ref": f"#/channels/{reply_channel}/messages/{reply_key}"}],
            }
        self.operations[_key(channel.action, resource, str(io.name), channel.key)] = operation

    def _message(
        self,
        resource: str,
        io: MessageInput | MessageOutput,
        channel: ChannelDescription,
        kind: payloads.PayloadType | None,
        suffix: str,
    ) -> tuple[str, dict[str, Any]]:
        """A component message for ``kind`` with the io's codec: its key and a ``$ref`` to it."""
        media = payloads.content_type(io.codec)
        if kind is not None:
            key = _key(kind.name if media == "application/json" else f"{kind.name}.{media.rsplit('/', 1)[-1]}")
            message: dict[str, Any] = {"name": kind.name, "contentType": media, "payload": self.schemas.ref(kind)}
            doc = getattr(kind.annotation, "__doc__", None)
            if doc and not doc.startswith(kind.name + "("):  # not a dataclass's generated doc
                message["summary"] = doc.strip().splitlines()[0]
        else:
            key = _key(resource, str(io.name), suffix)
            message = {"name": key, "contentType": media, "summary": "untyped: whatever the codec carries"}
        if channel.message_bindings and suffix != "reply":
            message["bindings"] = channel.message_bindings
            if kind is not None:
                key = _key(key, resource)
        existing = self.messages.get(key)
        if existing is not None and existing != message:
            key = _key(key, resource, str(io.name), suffix)
        self.messages[key] = message
        return key, {"$ref": f"#/components/messages/{key}"}


def dump(document: dict[str, Any], format: str = "json") -> str:
    """The document as JSON (indented) or YAML text."""
    if format == "yaml":
        import yaml  # on first use: a service that never serves YAML does not import PyYAML

        return str(yaml.safe_dump(document, sort_keys=False, allow_unicode=True))
    if format == "json":
        return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    raise ValueError(f"unknown format {format!r}: json or yaml")
