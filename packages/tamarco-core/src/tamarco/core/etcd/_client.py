"""The etcd client: aetcd's, plus TLS, bounded waits, and a connection that cleans up after itself.

aetcd's client only opens plaintext gRPC channels, so :class:`TamarcoEtcdClient` overrides its
``connect`` to add TLS (``grpc.ssl_channel_credentials``). That override relies on aetcd's
private attributes (``_connected``, ``_is_connecting``, ``_init_channel_attrs``, the stubs, the
watcher): ``tests/unit/etcd/test_aetcd_contract.py`` checks them, and pyproject bounds aetcd's
version. The password is kept out of every ``repr``, log line and exception message.

This module imports aetcd and grpc: ``tamarco.core.etcd`` imports it on first use only.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import aetcd
import aetcd.exceptions
import aetcd.rpc
import aetcd.watcher
import grpc
from tamarco.core.etcd._config import GRPC_OPTIONS, EtcdConnectionConfig
from tamarco.core.etcd._deadlines import AwaitableCancelled, request_bound, within

__all__ = ["CLOSE_TIMEOUT", "RETRYABLE_ERRORS", "TamarcoEtcdClient", "close_quietly", "request"]

logger = logging.getLogger("tamarco.settings")

T = TypeVar("T")

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
            except TimeoutError:
                raise aetcd.exceptions.ConnectionTimeoutError(
                    f"etcd at {self.config.address}: no connection within {self.config.request_timeout:g} s "
                    "(TAMARCO_ETCD_TIMEOUT)"
                ) from None
            return
        channel = None
        closes = self._closes
        try:
            self._is_connecting = True
            target = self.config.target
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
            except (TimeoutError, aetcd.exceptions.ClientError, grpc.RpcError, OSError) as error:
                logger.debug("etcd at %s: the watch stream did not shut down (%s)", self.config.address, error)
                handler = watcher._request_handler
                if handler is not None:
                    handler.cancel()
        if channel is not None:
            await _close_channel(channel)


async def _close_channel(channel: Any) -> None:
    try:
        await within(channel.close(), CLOSE_TIMEOUT)
    except (TimeoutError, grpc.RpcError, OSError) as error:
        logger.debug("closing an etcd channel: %s", error)


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
    except TimeoutError:
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
    except (TimeoutError, aetcd.exceptions.ClientError, grpc.RpcError, OSError) as error:
        logger.debug("closing the etcd client: %s", error)
