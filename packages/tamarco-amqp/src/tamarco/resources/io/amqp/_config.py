"""The settings of an AMQP resource (``system.resources.<name>``), parsed and checked once.

Keys of the 0.1 reference: ``host``, ``port``, ``vhost``, ``user``, ``password``,
``connection_timeout``, ``queues_prefix``; and ``naming`` (``"0.1"``: the 0.1 plugin's queue and
exchange names, see :mod:`._naming`), ``url`` (``amqp://`` or ``amqps://``; the
individual keys, when also given, override its parts), TLS (``tls``, ``ca_file``,
``cert_file``, ``key_file``, ``verify``), ``prefetch`` and the reconnect backoff. A wrong value
is a :class:`~tamarco.core.messaging.MessagingSettingsError` naming the full key. The password is
kept out of ``repr`` and of every message.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from tamarco.core.messaging import MessagingSettingsError
from tamarco.core.settings.reader import SettingsReader
from tamarco.core.urls import PERCENT_ENCODE_HINT, authority_problem
from tamarco.resources.io.amqp._naming import NAMING_SCHEMES, NamingScheme
from yarl import URL

__all__ = ["AMQP_SETTINGS_KEYS", "AMQPConfig"]

#: The keys of ``system.resources.<name>`` :meth:`AMQPConfig.from_settings` reads (``ssl``: the
#: 0.1-era spelling of ``tls``); the resource adds them to the core's ``settings_keys``.
AMQP_SETTINGS_KEYS: tuple[str, ...] = (
    "url",
    "host",
    "port",
    "vhost",
    "user",
    "password",
    "queues_prefix",
    "naming",
    "tls",
    "ssl",
    "ca_file",
    "cert_file",
    "key_file",
    "verify",
    "prefetch",
    "reconnect_interval_seconds",
    "max_reconnect_interval_seconds",
    "heartbeat_seconds",
)

_MISSING: Any = object()
#: ``(key, default) -> value`` and ``key -> full key`` of the resource's settings.
Getter = Callable[[str, Any], Any]
KeyNamer = Callable[[str], str]


@dataclass(frozen=True)
class AMQPConfig:
    """Where and how an AMQP resource connects. Build it with :meth:`from_settings`."""

    host: str = "127.0.0.1"
    port: int = 5672
    vhost: str = "/"
    user: str = "guest"
    password: str = field(default="guest", repr=False)
    tls: bool = False
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    verify: bool = True
    #: The names and declarations of exchanges and queues: ``"default"``, or ``"0.1"`` to share a
    #: broker with 0.1 services.
    naming: NamingScheme = "default"
    queues_prefix: str = ""
    #: Unacknowledged messages the broker hands to one input; None: 2 x its max_concurrency.
    prefetch: int | None = None
    reconnect_interval_seconds: float = 0.5
    max_reconnect_interval_seconds: float = 5.0
    heartbeat_seconds: int = 60

    @classmethod
    def from_settings(cls, get: Getter, full_key: KeyNamer = lambda key: key) -> AMQPConfig:
        """Parse the settings: ``get(key, default)`` reads one key of the resource. Every wrong
        key is reported at once (one error naming each)."""
        reader = SettingsReader(get, full_key, error=MessagingSettingsError)
        values: dict[str, Any] = {}
        url = get("url", None)
        if url is not None:
            with reader.each():
                values.update(_parse_url(url, full_key("url")))
        for key in ("host", "vhost", "user", "password", "queues_prefix"):
            value = get(key, _MISSING)
            if value is _MISSING or value is None:
                continue
            if key == "password" and isinstance(value, int) and not isinstance(value, bool):
                value = str(value)  # the reference's example: ``password: 1234``
            with reader.each():
                if not isinstance(value, str):
                    reader.fail(key, f"must be a string, got {type(value).__name__}")
                if key in ("host", "user") and not value:
                    reader.fail(key, "must not be empty")
                values[key] = value
        naming = get("naming", None)
        if naming is not None:
            with reader.each():
                values["naming"] = _naming(naming, full_key("naming"))
        tls_key = "tls" if get("tls", None) is not None else "ssl"
        if get(tls_key, None) is not None:
            with reader.each():
                values["tls"] = reader.boolean(tls_key, False)
        port = get("port", None)
        if port is not None:
            with reader.each():
                values["port"] = _port(port, full_key("port"))
        elif "port" not in values:
            values["port"] = 5671 if values.get("tls") else 5672
        for key in ("ca_file", "cert_file", "key_file"):
            value = get(key, None)
            if value is not None:
                with reader.each():
                    if not isinstance(value, str) or not value:
                        reader.fail(key, f"must be a file path, got {value!r}")
                    values[key] = value
        readers: dict[str, Callable[[str], Any]] = {
            "verify": lambda key: reader.boolean(key, True),
            "prefetch": lambda key: reader.whole(key, 1, minimum=1),
            "reconnect_interval_seconds": lambda key: reader.seconds(key, 1.0),
            "max_reconnect_interval_seconds": lambda key: reader.seconds(key, 1.0),
            "heartbeat_seconds": lambda key: reader.whole(key, 60),
        }
        for key, read in readers.items():
            if get(key, None) is not None:
                with reader.each():
                    values[key] = read(key)
        if values.get("cert_file") is None and values.get("key_file") is not None:
            with reader.each():
                reader.fail("key_file", f"needs {full_key('cert_file')} too")
        reader.raise_problems()
        return cls(**values)

    @property
    def address(self) -> str:
        """``host:port/vhost``: for logs, errors and ``/status`` (no credentials)."""
        vhost = self.vhost if self.vhost.startswith("/") else "/" + self.vhost
        return f"{self.host}:{self.port}{vhost}"

    def describe(self) -> dict[str, Any]:
        """The public part of the configuration (never the password)."""
        return {
            "address": self.address,
            "host": self.host,
            "port": self.port,
            "vhost": self.vhost,
            "tls": self.tls,
            "naming": self.naming,
            "queues_prefix": self.queues_prefix,
        }

    def url(self) -> URL:
        """The connection URL, credentials included: hand it to the client only, never log it."""
        return URL.build(
            scheme="amqps" if self.tls else "amqp",
            host=self.host,
            port=self.port,
            user=self.user,
            password=self.password,
            path="/" + self.vhost,
            query={"heartbeat": str(self.heartbeat_seconds)},
        )

    def ssl_context(self) -> ssl.SSLContext | None:
        """The TLS context (CA, client certificate, verification), or None without TLS."""
        if not self.tls:
            return None
        context = ssl.create_default_context(cafile=self.ca_file)
        if not self.verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        if self.cert_file is not None:
            context.load_cert_chain(self.cert_file, self.key_file)
        return context


def _parse_url(value: Any, key: str) -> dict[str, Any]:
    if not isinstance(value, str) or not value:
        raise MessagingSettingsError(f"setting {key} must be an amqp:// or amqps:// URL")
    # Checked before parsing: a wrongly split URL shows a password's tail as host or vhost.
    problem = authority_problem(value)
    if problem is not None:
        raise MessagingSettingsError(f"setting {key} is not a valid URL: {problem}; {PERCENT_ENCODE_HINT}")
    try:
        url = URL(value)
    except ValueError:
        raise MessagingSettingsError(f"setting {key} is not a valid URL") from None
    if url.scheme not in ("amqp", "amqps"):
        # The scheme only: the rest may hold a password.
        raise MessagingSettingsError(f"setting {key} must be an amqp:// or amqps:// URL, got scheme {url.scheme!r}")
    if not url.host:
        raise MessagingSettingsError(f"setting {key} has no host")
    values: dict[str, Any] = {"host": url.host, "tls": url.scheme == "amqps"}
    if url.explicit_port:
        values["port"] = url.explicit_port
    if url.user:
        values["user"] = unquote(url.raw_user or url.user)
    if url.password is not None:
        values["password"] = unquote(url.raw_password or url.password)
    path = url.raw_path[1:] if url.raw_path.startswith("/") else url.raw_path
    if path:
        values["vhost"] = unquote(path)
    return values


def _naming(value: Any, key: str) -> NamingScheme:
    if value == 0.1 and isinstance(value, float):
        value = "0.1"  # YAML reads an unquoted 0.1 as a number
    for scheme in NAMING_SCHEMES:
        if value == scheme:
            return scheme
    raise MessagingSettingsError(f"setting {key} must be one of {', '.join(map(repr, NAMING_SCHEMES))}, got {value!r}")


def _port(value: Any, key: str) -> int:
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 65536:
        raise MessagingSettingsError(f"setting {key} must be a TCP port (1-65535), got {value!r}")
    return value
