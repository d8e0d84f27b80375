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
    schemas = SchemaRegistry()
    servers: dict[str, Any] = {}
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for name, resource in sorted(service.resources.items()):
        if not isinstance(resource, MessagingResource):
            continue
        resource_servers = resource.contract_servers()
        servers.update(resource_servers)
        server_refs = [{"$ref": f"#/servers/{server}"} for server in resource_servers]
        ios: list[MessageInput | MessageOutput] = [
            io for io in resource.inputs.values() if isinstance(io, MessageInput)
        ]
        ios += [io for io in resource.outputs.values() if isinstance(io, MessageOutput)]
        for io in ios:
            for channel in resource.contract_channels(io):
                _add_operation(
                    _Context(name, io, channel, server_refs, schemas, channels, operations, messages),
                )
    document: dict[str, Any] = {
        "asyncapi": ASYNCAPI_VERSION,
        "info": service_info(service),
        "defaultContentType": "application/json",
    }
    if servers:
        document["servers"] = servers
    document["channels"] = channels
    document["operations"] = operations
    components: dict[str, Any] = {}
    if messages:
        components["messages"] = messages
    if schemas.schemas:
        components["schemas"] = dict(sorted(schemas.schemas.items()))
    if components:
        document["components"] = components
    return document


class _Context:
    __slots__ = ("channel", "channels", "io", "messages", "operations", "resource", "schemas", "server_refs")

    def __init__(
        self,
        resource: str,
        io: MessageInput | MessageOutput,
        channel: ChannelDescription,
        server_refs: list[dict[str, str]],
        schemas: SchemaRegistry,
        channels: dict[str, Any],
        operations: dict[str, Any],
        messages: dict[str, Any],
    ) -> None:
        self.resource = resource
        self.io = io
        self.channel = channel
        self.server_refs = server_refs
        self.schemas = schemas
        self.channels = channels
        self.operations = operations
        self.messages = messages


def _message(context: _Context, kind: payloads.PayloadType | None, suffix: str) -> tuple[str, dict[str, Any]]:
    """A component message for ``kind`` with the io's codec; its key and a ``$ref`` to it."""
    io = context.io
    media = payloads.content_type(io.codec)
    if kind is not None:
        key = _key(kind.name if media == "application/json" else f"{kind.name}.{media.rsplit('/', 1)[-1]}")
        message: dict[str, Any] = {"name": kind.name, "contentType": media, "payload": context.schemas.ref(kind)}
        doc = getattr(kind.annotation, "__doc__", None)
        if doc and kind.annotation.__module__ != "builtins" and not doc.startswith(kind.name + "("):
            message["summary"] = doc.strip().splitlines()[0]
    else:
        key = _key(context.resource, str(io.name), suffix)
        message = {"name": key, "contentType": media, "summary": "untyped: whatever the codec carries"}
    if context.channel.message_bindings and suffix != "reply":
        message["bindings"] = context.channel.message_bindings
        key = _key(key, context.resource) if kind is not None else key
    existing = context.messages.get(key)
    if existing is not None and existing != message:
        key = _key(key, context.resource, str(io.name), suffix)
    context.messages[key] = message
    return key, {"$ref": f"#/components/messages/{key}"}


def _add_operation(context: _Context) -> None:
    io, channel = context.io, context.channel
    kind = io.payload_type() if isinstance(io, MessageInput) else io.declared_payload_type()
    channel_key = _key(context.resource, str(io.name), channel.key)
    message_key, message_ref = _message(context, kind, "message")
    channel_object: dict[str, Any] = {"address": channel.address, "messages": {message_key: message_ref}}
    if channel.description:
        channel_object["description"] = channel.description
    if context.server_refs:
        channel_object["servers"] = context.server_refs
    if channel.channel_bindings:
        channel_object["bindings"] = channel.channel_bindings
    context.channels[channel_key] = channel_object
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
        reply_key, reply_ref = _message(context, reply_kind, "reply")
        reply_channel = f"{channel_key}.reply"
        context.channels[reply_channel] = {
            "address": None,
            "description": "the requester's own reply address, given in each request",
            "messages": {reply_key: reply_ref},
        }
        operation["reply"] = {
            "address": {"location": channel.reply_location},
            "channel": {"$ref": f"#/channels/{reply_channel}"},
            "messages": [{"$ref": f"#/channels/{reply_channel}/messages/{reply_key}"}],
        }
    context.operations[_key(channel.action, context.resource, str(io.name), channel.key)] = operation


def dump(document: dict[str, Any], format: str = "json") -> str:
    """The document as JSON (indented) or YAML text."""
    if format == "yaml":
        import yaml  # on first use: a service that never serves YAML does not import PyYAML

        return str(yaml.safe_dump(document, sort_keys=False, allow_unicode=True))
    if format == "json":
        return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    raise ValueError(f"unknown format {format!r}: json or yaml")
