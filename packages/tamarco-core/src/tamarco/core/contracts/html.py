"""A readable, self-contained HTML page of a contract document (no scripts, no CDN: it works
offline, behind a firewall, in an air-gapped cluster)."""

from __future__ import annotations

import html
import json
from typing import Any

__all__ = ["asyncapi_html", "openapi_html"]

_STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:70rem;padding:0 1rem;color:#222}
h1{margin-bottom:0}code,pre{font-family:ui-monospace,monospace;font-size:.85rem}
pre{background:#f5f5f5;padding:.6rem;overflow:auto;border-radius:4px}
section{border:1px solid #ddd;border-radius:6px;margin:1rem 0;padding:.4rem 1rem}
.action{font-weight:bold;text-transform:uppercase;padding:.1rem .4rem;border-radius:3px;color:#fff}
.receive,.get{background:#2a7ab0}.send,.post{background:#2f8f46}.put,.patch{background:#b07a2a}
.delete{background:#b02a2a}.other{background:#666}
table{border-collapse:collapse}td,th{border:1px solid #ddd;padding:.2rem .5rem;text-align:left}
"""


def _page(title: str, body: list[str]) -> str:
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>" + "".join(body) + "</body></html>"
    )


def _json(value: Any) -> str:
    return f"<pre>{html.escape(json.dumps(value, indent=2, ensure_ascii=False))}</pre>"


def _resolve(document: dict[str, Any], value: Any) -> Any:
    ref = value.get("$ref") if isinstance(value, dict) else None
    if not isinstance(ref, str) or not ref.startswith("#/"):
        return value
    node: Any = document
    for part in ref[2:].split("/"):
        node = node.get(part.replace("~1", "/").replace("~0", "~"), {}) if isinstance(node, dict) else {}
    return node


def _info(document: dict[str, Any], kind: str) -> list[str]:
    info = document.get("info", {})
    body = [
        f"<h1>{html.escape(str(info.get('title', '')))}</h1>",
        f"<p>{kind} {html.escape(str(document.get('asyncapi') or document.get('openapi')))} · version "
        f"{html.escape(str(info.get('version', '')))}</p>",
    ]
    if info.get("description"):
        body.append(f"<p>{html.escape(str(info['description']))}</p>")
    return body


def asyncapi_html(document: dict[str, Any]) -> str:
    """The AsyncAPI document as a page: servers, then each operation with its channel's address,
    bindings and message payload schemas."""
    body = _info(document, "AsyncAPI")
    servers = document.get("servers", {})
    if servers:
        body.append("<h2>Servers</h2><table><tr><th>name</th><th>protocol</th><th>host</th><th>pathname</th></tr>")
        for name, server in servers.items():
            body.append(
                f"<tr><td>{html.escape(name)}</td><td>{html.escape(str(server.get('protocol', '')))}</td>"
                f"<td>{html.escape(str(server.get('host', '')))}</td>"
                f"<td>{html.escape(str(server.get('pathname', '')))}</td></tr>"
            )
        body.append("</table>")
    body.append("<h2>Operations</h2>")
    for name, operation in document.get("operations", {}).items():
        action = str(operation.get("action", ""))
        channel = _resolve(document, operation.get("channel"))
        body.append(
            f"<section id='{html.escape(name)}'><h3><span class='action {html.escape(action)}'>"
            f"{html.escape(action)}</span> <code>{html.escape(str(channel.get('address')))}</code></h3>"
            f"<p><code>{html.escape(name)}</code></p>"
        )
        if channel.get("bindings"):
            body.append("<h4>Bindings</h4>" + _json(channel["bindings"]))
        for reference in channel.get("messages", {}).values():
            message = _resolve(document, reference)
            body.append(
                f"<h4>Message {html.escape(str(message.get('name', '')))} "
                f"({html.escape(str(message.get('contentType', '')))})</h4>"
            )
            if "payload" in message:
                body.append(_json(_resolve(document, message["payload"])))
        if "reply" in operation:
            body.append("<h4>Reply</h4>" + _json(operation["reply"]))
        body.append("</section>")
    schemas = document.get("components", {}).get("schemas", {})
    if schemas:
        body.append("<h2>Schemas</h2>")
        for name, schema in schemas.items():
            body.append(f"<h3 id='schema-{html.escape(name)}'>{html.escape(name)}</h3>{_json(schema)}")
    return _page(str(document.get("info", {}).get("title", "AsyncAPI")), body)


def openapi_html(document: dict[str, Any]) -> str:
    """The OpenAPI document as a page: each path and method with its parameters and bodies."""
    body = _info(document, "OpenAPI")
    for path, item in document.get("paths", {}).items():
        for method, operation in item.items():
            if not isinstance(operation, dict) or method == "parameters":
                continue
            css = method if method in ("get", "post", "put", "patch", "delete") else "other"
            body.append(
                f"<section><h3><span class='action {css}'>{html.escape(method)}</span> "
                f"<code>{html.escape(path)}</code></h3>"
            )
            if operation.get("summary"):
                body.append(f"<p>{html.escape(str(operation['summary']))}</p>")
            for key in ("parameters", "requestBody", "responses"):
                if key in operation:
                    body.append(f"<h4>{key}</h4>{_json(operation[key])}")
            body.append("</section>")
    schemas = document.get("components", {}).get("schemas", {})
    for name, schema in schemas.items():
        body.append(f"<h3>{html.escape(name)}</h3>{_json(schema)}")
    return _page(str(document.get("info", {}).get("title", "OpenAPI")), body)
