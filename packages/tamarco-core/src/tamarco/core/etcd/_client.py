"""Connecting to etcd: configuration from the environment, TLS, credentials, retries.

aetcd's client only opens plaintext gRPC channels, so :class:`TamarcoEtcdClient` adds TLS
(``grpc.ssl_channel_credentials``) on top of it. The password is kept out of every ``repr``,
log line and exception message.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

import aetcd
import aetcd.exceptions
import aetcd.rpc
import aetcd.watcher
import grpc
from tamarco.core.settings.backends._etcd_mapping import normalize_namespace
from tamarco.core.settings.errors import SettingsError

logger = logging.getLogger("tamarco.settings")

T = TypeVar("T")

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

#: How long closing a client may take before its channel is closed by force.
CLOSE_TIMEOUT = 2.0

#: The errors after which retrying later can succeed: etcd down, restarting or slow.
RETRYABLE_ERRORS: tuple[type[BaseException], ...] = (
    aetcd.exceptions.ConnectionFailedError,
    aetcd.exceptions.ConnectionTimeoutError,
    aetcd.exceptions.WatchTimeoutError,
    asyncio.TimeoutError,
    ConnectionError,
)


class EtcdError(SettingsError):
    """An etcd operation failed. The message names the address, never the password."""


class EtcdUnavailableError(EtcdError):
    """etcd could not be reached (at start: within the startup timeout)."""


class EtcdConfigurationError(EtcdError, ValueError):
    """A ``TAMARCO_ETCD_*`` variable is invalid; the message names it."""


class EtcdCheckKeyTimeout(EtcdError):
    """``ETCD_CHECK_KEY`` did not appear within ``TAMARCO_ETCD_CHECK_TIMEOUT``."""


@dataclasses.dataclass(frozen=True)
class EtcdConnectionConfig:
    """Where etcd is and how to authenticate: built from ``TAMARCO_ETCD_*`` variables.

    ``password`` is excluded from ``repr``; :attr:`address` is what logs and errors show.
    """

    host: str
    port: int = DEFAULT_PORT
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

    @property
    def tls(self) -> bool:
        return bool(self.ca_cert or self.cert)

    @property
    def address(self) -> str:
        """``host:port`` (with ``https://`` for TLS), for logs and errors."""
        return f"{'https://' if self.tls else ''}{self.host}:{self.port}"

    @classmethod
    def from_environment(cls, environ: Mapping[str, str]) -> EtcdConnectionConfig:
        """Read ``TAMARCO_ETCD_HOST`` and the optional variables (see ``docs/settings.md``)."""
        host = environ.get("TAMARCO_ETCD_HOST", "").strip()
        if not host:
            raise EtcdConfigurationError("TAMARCO_ETCD_HOST is not set")

        def text(name: str) -> str | None:
            value = environ.get(name)
            return value if value else None

        return cls(
            host=host,
            port=_int_var(environ, "TAMARCO_ETCD_PORT", DEFAULT_PORT),
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
        return grpc.ssl_channel_credentials(
            root_certificates=_read_file(self.ca_cert, "TAMARCO_ETCD_CA"),
            private_key=_read_file(self.cert_key, "TAMARCO_ETCD_KEY"),
            certificate_chain=_read_file(self.cert, "TAMARCO_ETCD_CERT"),
        )

    def client(self) -> TamarcoEtcdClient:
        """A new (not yet connected) client for this configuration."""
        return TamarcoEtcdClient(self)


class TamarcoEtcdClient(aetcd.Client):
    """aetcd's client, plus TLS channels. Connects lazily on the first request.

    Every request has a deadline of ``TAMARCO_ETCD_TIMEOUT`` (aetcd passes it to gRPC), and so
    do authenticating and waiting for another task's connection. A connection that fails to
    authenticate closes its channel, and :meth:`close` ends within :data:`CLOSE_TIMEOUT`
    whatever state the connection is in.
    """

    def __init__(self, config: EtcdConnectionConfig) -> None:
        super().__init__(
            host=config.host,
            port=config.port,
            username=config.user,
            password=config.password,
            timeout=config.request_timeout,  # type: ignore[arg-type]  # grpc takes float seconds
            options=GRPC_OPTIONS,
            connect_wait_timeout=config.request_timeout,  # type: ignore[arg-type]
        )
        self.config = config
        self._credentials = config.channel_credentials()
        #: How many times :meth:`close` ran: a connection made meanwhile is closed at once.
        self._closes = 0

    def __repr__(self) -> str:
        return f"<TamarcoEtcdClient {self.config.address}>"

    async def connect(self) -> None:
        if self._connected.is_set():
            return
        if self._is_connecting:  # type: ignore[has-type]
            try:
                await within(self._connected.wait(), self.config.request_timeout)
            except asyncio.TimeoutError:
                raise aetcd.exceptions.ConnectionTimeoutError(
                    f"etcd at {self.config.address}: no connection within {self.config.request_timeout:g} s "
                    "(TAMARCO_ETCD_TIMEOUT)"
                ) from None
            return
        channel = None
        closes = self._closes
        try:
            self._is_connecting = True
            target = f"{self._host}:{self._port}"
            options = list(self._options.items())
            if self._credentials is None:
                channel = aetcd.rpc.insecure_channel(target, options=options)
            else:
                channel = aetcd.rpc.secure_channel(target, self._credentials, options=options)
            metadata = None
            if self._username is not None and self._password is not None:
                request = aetcd.rpc.AuthenticateRequest(name=self._username, password=self._password)
                try:
                    response = await aetcd.rpc.AuthStub(channel).Authenticate(request, timeout=self._timeout)
                except aetcd.rpc.AioRpcError as error:
                    aetcd.exceptions._handle_exception(error)
                metadata = (("token", response.token),)
            if self._closes != closes:
                raise aetcd.exceptions.ConnectionFailedError(f"etcd at {self.config.address}: closed while connecting")
            self.channel, self.metadata = channel, metadata
            self.auth_stub = aetcd.rpc.AuthStub(channel)
            self.kvstub = aetcd.rpc.KVStub(channel)
            self.clusterstub = aetcd.rpc.ClusterStub(channel)
            self.leasestub = aetcd.rpc.LeaseStub(channel)
            self.maintenancestub = aetcd.rpc.MaintenanceStub(channel)
            self._watcher = aetcd.watcher.Watcher(
                aetcd.rpc.WatchStub(channel), timeout=self._timeout, metadata=metadata
            )
            self._connected.set()
        except BaseException:
            # aetcd keeps a channel whose authentication failed open (and pinging) forever.
            if channel is not None and channel is not self.channel:
                await _close_channel(channel)
            raise
        finally:
            self._is_connecting = False

    async def close(self) -> None:
        """Close the connection: the watch stream, then the channel. Never takes more than
        :data:`CLOSE_TIMEOUT` (then the channel is closed by force), never waits for a
        connection still being made."""
        self._closes += 1
        channel, watcher = self.channel, self._watcher
        self._init_channel_attrs()
        self._connected.clear()
        if watcher is not None:
            try:
                await within(watcher.shutdown(), CLOSE_TIMEOUT)
            except (asyncio.TimeoutError, aetcd.exceptions.ClientError, grpc.RpcError, OSError) as error:
                logger.debug("etcd at %s: the watch stream did not shut down (%s)", self.config.address, error)
                handler = watcher._request_handler
                if handler is not None:
                    handler.cancel()
        if channel is not None:
            await _close_channel(channel)


async def _close_channel(channel: Any) -> None:
    try:
        await within(channel.close(), CLOSE_TIMEOUT)
    except (asyncio.TimeoutError, grpc.RpcError, OSError) as error:
        logger.debug("closing an etcd channel: %s", error)


async def within(awaitable: Awaitable[T], timeout: float, discard: Callable[[T], Awaitable[Any]] | None = None) -> T:
    """``awaitable``'s result, or ``asyncio.TimeoutError`` after ``timeout`` seconds.

    Unlike ``asyncio.wait_for`` before Python 3.12, a cancellation of the caller that arrives
    as ``awaitable`` completes is never swallowed (3.11's ``wait_for`` then returns the result
    and the task goes on as if it had not been cancelled), and the deadline holds even if the
    awaitable itself ignores a cancellation: it runs in a task of its own. A result that
    comes after the caller gave up is handed to ``discard`` (to cancel a watch nobody reads).
    """
    task = asyncio.ensure_future(awaitable)
    try:
        done, _ = await asyncio.wait({task}, timeout=timeout)
    except asyncio.CancelledError:
        _abandon(task, discard)
        raise
    if not done:
        _abandon(task, discard)
        raise asyncio.TimeoutError
    if task.cancelled():
        # Not this caller's cancellation (that one raised above): the awaitable's, such as a
        # gRPC call cancelled because another task closed its channel.
        raise AwaitableCancelled
    return task.result()


class AwaitableCancelled(ConnectionError):
    """What :func:`within` awaited was cancelled from elsewhere (its caller was not)."""


def _abandon(task: asyncio.Future[T], discard: Callable[[T], Awaitable[Any]] | None) -> None:
    task.cancel()

    def done(task: asyncio.Future[T]) -> None:
        if task.cancelled() or task.exception() is not None:
            return  # the exception is retrieved: no "never retrieved" log
        if discard is not None:
            cleanup = asyncio.ensure_future(discard(task.result()))
            cleanup.add_done_callback(lambda f: f.cancelled() or f.exception())

    task.add_done_callback(done)


def request_bound(config: EtcdConnectionConfig) -> float:
    """The most one request may take, seen from the caller: connecting (and authenticating)
    and then the request, each with the ``TAMARCO_ETCD_TIMEOUT`` deadline, plus a margin."""
    return 2 * config.request_timeout + 1.0


async def request(
    awaitable: Awaitable[T],
    config: EtcdConnectionConfig,
    what: str,
    discard: Callable[[T], Awaitable[Any]] | None = None,
) -> T:
    """Await one etcd request with :func:`request_bound`: gRPC's deadline should end it first,
    this ends it anyway (a lost completion, a connection that never comes) with
    ``ConnectionTimeoutError`` naming the address, which callers retry or report."""
    bound = request_bound(config)
    try:
        return await within(awaitable, bound, discard)
    except asyncio.TimeoutError:
        raise aetcd.exceptions.ConnectionTimeoutError(
            f"etcd at {config.address} did not answer {what} within {bound:g} s (TAMARCO_ETCD_TIMEOUT)"
        ) from None
    except AwaitableCancelled:
        # gRPC cancels the calls of a channel being closed (another task reconnecting after
        # an outage): for this caller the connection failed, it was not cancelled.
        raise aetcd.exceptions.ConnectionFailedError(
            f"etcd at {config.address}: the connection was closed during {what}"
        ) from None


async def close_quietly(client: aetcd.Client | None) -> None:
    """Close a client that may be broken already (closing must not raise during recovery);
    at most a few seconds whatever the state of the connection."""
    if client is None:
        return
    try:
        await within(client.close(), 2 * CLOSE_TIMEOUT + 1.0)
    except (aetcd.exceptions.ClientError, grpc.RpcError, asyncio.TimeoutError, OSError) as error:
        logger.debug("closing the etcd client: %s", error)


def describe_error(error: BaseException) -> str:
    """A short description of an etcd error (grpc details, not the whole status dump)."""
    text = str(error).strip()
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


class _Default:
    pass


_DEFAULT = _Default()


async def retry_until(
    operation: Callable[[], Awaitable[T]],
    *,
    config: EtcdConnectionConfig,
    timeout: float,
    what: str,
    on_retry: Callable[[], Awaitable[Any]] | None = None,
    attempt_timeout: float | _Default | None = _DEFAULT,
) -> T:
    """Run ``operation`` until it succeeds, with exponential backoff (0.1 s up to 2 s).

    Retries only :data:`RETRYABLE_ERRORS`; logs the first failure once; after ``timeout``
    raises :class:`EtcdUnavailableError` naming the address and ``what`` was attempted.
    Each attempt is bounded by ``attempt_timeout`` (default :func:`request_bound`; ``None``:
    the operation bounds itself), and never outlives ``timeout`` but for the first attempt,
    so the whole retry ends within ``timeout`` (or one attempt, if that is longer).
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    bound = request_bound(config) if isinstance(attempt_timeout, _Default) else attempt_timeout
    delay = 0.1
    warned = False
    first = True
    while True:
        try:
            if bound is None:
                return await operation()
            this_bound = bound if first else max(0.1, min(bound, deadline - loop.time()))
            try:
                return await within(operation(), this_bound)
            except asyncio.TimeoutError:
                raise aetcd.exceptions.ConnectionTimeoutError(f"no answer within {this_bound:.3g} s") from None
        except EtcdError:
            raise
        except RETRYABLE_ERRORS as error:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise EtcdUnavailableError(
                    f"etcd at {config.address} is unreachable: gave up {what} after {timeout:g} s "
                    f"(TAMARCO_ETCD_STARTUP_TIMEOUT); last error: {describe_error(error)}"
                ) from None
            if not warned:
                logger.warning(
                    "etcd at %s is not reachable yet (%s); retrying %s for up to %g s",
                    config.address,
                    describe_error(error),
                    what,
                    timeout,
                )
                warned = True
            if on_retry is not None:
                await on_retry()
            await asyncio.sleep(min(delay, max(0.0, deadline - loop.time())))
            delay = min(delay * 2, 2.0)
            first = False


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
