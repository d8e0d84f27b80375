"""Where etcd is and how to reach it: ``TAMARCO_ETCD_*`` variables, TLS files, credentials.

Nothing here imports aetcd or grpc at import time (a service that does not use etcd must not
pay for them): grpc is imported when TLS credentials are built, aetcd when a client is made.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from tamarco.core.etcd._errors import EtcdConfigurationError
from tamarco.core.etcd._mapping import normalize_namespace

if TYPE_CHECKING:
    import grpc
    from tamarco.core.etcd._client import TamarcoEtcdClient

__all__ = [
    "DEFAULT_CHECK_TIMEOUT",
    "DEFAULT_PORT",
    "DEFAULT_REQUEST_TIMEOUT",
    "DEFAULT_STARTUP_TIMEOUT",
    "GRPC_OPTIONS",
    "EtcdConnectionConfig",
]

DEFAULT_PORT = 2379
DEFAULT_STARTUP_TIMEOUT = 30.0
DEFAULT_CHECK_TIMEOUT = 60.0
DEFAULT_REQUEST_TIMEOUT = 5.0

#: gRPC channel options: reconnect quickly after an etcd restart (gRPC's default backoff grows
#: to 2 minutes), keep the backoff state per channel, and notice a dead peer on an idle watch.
#:
#: Keepalive follows etcd's server policy (``--grpc-keepalive-min-time``, 5 s by default, and
#: no pings on a connection without a call): a client that pings more often, or pings an idle
#: connection, is sent ``GOAWAY ENHANCE_YOUR_CALM too_many_pings`` and loses the connection
#: (etcd counts a strike per early ping and hangs up after the third). So pings go only while a
#: call (a watch) is open, every 10 s (twice the minimum), and keep going on a watch where
#: nothing changes (``max_pings_without_data`` 0: no limit) so a dead etcd is still noticed.
GRPC_OPTIONS: dict[str, Any] = {
    "grpc.use_local_subchannel_pool": 1,
    "grpc.initial_reconnect_backoff_ms": 100,
    "grpc.min_reconnect_backoff_ms": 100,
    "grpc.max_reconnect_backoff_ms": 2000,
    "grpc.keepalive_time_ms": 10000,
    "grpc.keepalive_timeout_ms": 5000,
    "grpc.keepalive_permit_without_calls": 0,
    "grpc.http2.max_pings_without_data": 0,
}


@dataclasses.dataclass(frozen=True)
class EtcdConnectionConfig:
    """Where etcd is and how to authenticate: built from ``TAMARCO_ETCD_*`` variables.

    ``password`` is excluded from ``repr``; :attr:`address` is what logs and errors show.
    ``endpoints`` lists every member of an etcd cluster (``TAMARCO_ETCD_HOST`` as a comma list);
    ``host``/``port`` are the first. gRPC connects to the first member that answers and moves
    to another when that one goes away.
    """

    host: str
    port: int = DEFAULT_PORT
    endpoints: tuple[tuple[str, int], ...] = ()
    user: str | None = None
    password: str | None = dataclasses.field(default=None, repr=False)
    ca_cert: str | None = None
    cert: str | None = None
    cert_key: str | None = None
    #: Namespace every key lives under ("" = the root; "/staging" → "/staging/system/...").
    namespace: str = ""
    startup_timeout: float = DEFAULT_STARTUP_TIMEOUT
    request_timeout: float = DEFAULT_REQUEST_TIMEOUT
    check_key: str | None = None
    check_timeout: float = DEFAULT_CHECK_TIMEOUT

    def __post_init__(self) -> None:
        if (self.user is None) != (self.password is None):
            missing = "TAMARCO_ETCD_PASSWORD" if self.password is None else "TAMARCO_ETCD_USER"
            raise EtcdConfigurationError(f"etcd authentication needs both user and password: {missing} is not set")
        if (self.cert is None) != (self.cert_key is None):
            missing = "TAMARCO_ETCD_KEY" if self.cert_key is None else "TAMARCO_ETCD_CERT"
            raise EtcdConfigurationError(f"an etcd client certificate needs both files: {missing} is not set")
        object.__setattr__(self, "namespace", normalize_namespace(self.namespace))
        if not self.endpoints:
            object.__setattr__(self, "endpoints", ((self.host, self.port),))
        self.target  # noqa: B018 - validates several endpoints now, not at the first connection

    @property
    def target(self) -> str:
        """The gRPC target: ``host:port``, or ``ipv4:a:p,b:p`` (``ipv6:[a]:p,...``) for a cluster."""
        if len(self.endpoints) == 1:
            return _join(*self.endpoints[0])
        versions = set()
        for host, _ in self.endpoints:
            try:
                versions.add(ipaddress.ip_address(host).version)
            except ValueError:
                raise EtcdConfigurationError(
                    f"TAMARCO_ETCD_HOST: several etcd endpoints must be IP addresses, got {host!r} "
                    "(or give one DNS name that resolves to every member)"
                ) from None
        if len(versions) != 1:
            raise EtcdConfigurationError("TAMARCO_ETCD_HOST: several etcd endpoints must all be IPv4 or all IPv6")
        return f"ipv{versions.pop()}:" + ",".join(_join(host, port) for host, port in self.endpoints)

    @property
    def tls(self) -> bool:
        return bool(self.ca_cert or self.cert)

    @property
    def address(self) -> str:
        """``host:port`` (with ``https://`` for TLS; comma-joined for a cluster), for logs and errors."""
        return f"{'https://' if self.tls else ''}" + ",".join(_join(host, port) for host, port in self.endpoints)

    @classmethod
    def from_environment(cls, environ: Mapping[str, str]) -> EtcdConnectionConfig:
        """Read ``TAMARCO_ETCD_HOST`` and the optional variables (see ``docs/settings.md``).

        ``TAMARCO_ETCD_HOST`` is one host, or a comma list of ``host[:port]`` (``[v6]:port``) for
        the members of a cluster; a member without a port gets ``TAMARCO_ETCD_PORT``.
        """
        raw_host = environ.get("TAMARCO_ETCD_HOST", "").strip()
        if not raw_host:
            raise EtcdConfigurationError("TAMARCO_ETCD_HOST is not set")
        default_port = _int_var(environ, "TAMARCO_ETCD_PORT", DEFAULT_PORT)
        endpoints = tuple(_endpoint(item.strip(), default_port) for item in raw_host.split(",") if item.strip())
        if not endpoints:
            raise EtcdConfigurationError(f"TAMARCO_ETCD_HOST has no host: {raw_host!r}")
        host, port = endpoints[0]

        def text(name: str) -> str | None:
            value = environ.get(name)
            return value if value else None

        return cls(
            host=host,
            port=port,
            endpoints=endpoints,
            user=text("TAMARCO_ETCD_USER"),
            password=text("TAMARCO_ETCD_PASSWORD"),
            ca_cert=text("TAMARCO_ETCD_CA"),
            cert=text("TAMARCO_ETCD_CERT"),
            cert_key=text("TAMARCO_ETCD_KEY"),
            namespace=environ.get("TAMARCO_ETCD_PREFIX", ""),
            startup_timeout=_seconds_var(environ, "TAMARCO_ETCD_STARTUP_TIMEOUT", DEFAULT_STARTUP_TIMEOUT),
            request_timeout=_seconds_var(environ, "TAMARCO_ETCD_TIMEOUT", DEFAULT_REQUEST_TIMEOUT),
            check_key=text("ETCD_CHECK_KEY"),
            check_timeout=_seconds_var(environ, "TAMARCO_ETCD_CHECK_TIMEOUT", DEFAULT_CHECK_TIMEOUT),
        )

    def channel_credentials(self) -> grpc.ChannelCredentials | None:
        """TLS credentials from the CA/cert/key files, or None for plaintext."""
        if not self.tls:
            return None
        import grpc

        return grpc.ssl_channel_credentials(
            root_certificates=_read_file(self.ca_cert, "TAMARCO_ETCD_CA"),
            private_key=_read_file(self.cert_key, "TAMARCO_ETCD_KEY"),
            certificate_chain=_read_file(self.cert, "TAMARCO_ETCD_CERT"),
        )

    def client(self) -> TamarcoEtcdClient:
        """A new (not yet connected) client for this configuration (imports aetcd)."""
        from tamarco.core.etcd import TamarcoEtcdClient  # a clear error without the etcd extra

        return TamarcoEtcdClient(self)


def _join(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _endpoint(item: str, default_port: int) -> tuple[str, int]:
    """``host``, ``host:port``, ``[v6]`` or ``[v6]:port`` (a bare IPv6 address has no port)."""
    host, port_text = item, ""
    if item.startswith("["):
        host, _, rest = item[1:].partition("]")
        port_text = rest[1:] if rest.startswith(":") else rest
    elif item.count(":") == 1:
        host, _, port_text = item.partition(":")
    if not port_text:
        return host, default_port
    return host, _int_var({"TAMARCO_ETCD_HOST": port_text}, "TAMARCO_ETCD_HOST", default_port)


def _int_var(environ: Mapping[str, str], name: str, default: int) -> int:
    raw = environ.get(name)
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise EtcdConfigurationError(f"{name} must be an integer, got {raw!r}") from None
    if not 0 < value < 65536:
        raise EtcdConfigurationError(f"{name} must be a port number (1-65535), got {value}")
    return value


def _seconds_var(environ: Mapping[str, str], name: str, default: float) -> float:
    raw = environ.get(name)
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise EtcdConfigurationError(f"{name} must be a number of seconds, got {raw!r}") from None
    if value < 0 or value != value:
        raise EtcdConfigurationError(f"{name} must be zero or more seconds, got {raw!r}")
    return value


def _read_file(path: str | None, variable: str) -> bytes | None:
    if path is None:
        return None
    try:
        with open(os.path.expanduser(path), "rb") as handle:
            return handle.read()
    except OSError as error:
        raise EtcdConfigurationError(f"{variable}={path}: cannot read the file ({error.strerror})") from None
