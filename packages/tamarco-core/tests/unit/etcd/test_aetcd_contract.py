"""The aetcd internals ``tamarco.core.etcd`` relies on are still there, with the same shape.

:class:`TamarcoEtcdClient` overrides ``aetcd.Client.connect`` (aetcd opens plaintext channels
only; the override adds TLS and bounded waits) and ``close``, so it depends on aetcd's private
attributes and on the modules its ``connect`` uses. pyproject bounds aetcd (<1.1); before the
bound is raised these tests must pass on the new release. Each failure names the internal and
the installed aetcd version.
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import inspect

import aetcd
import aetcd.client
import aetcd.exceptions
import aetcd.rpc
import aetcd.watcher
import grpc
import pytest
from tamarco.core.etcd import EtcdConnectionConfig, TamarcoEtcdClient

AETCD_VERSION = importlib.metadata.version("aetcd")

#: What ``TamarcoEtcdClient.connect`` assigns: every attribute aetcd's own connect sets up.
CHANNEL_ATTRIBUTES = {
    "channel",
    "metadata",
    "auth_stub",
    "kvstub",
    "clusterstub",
    "leasestub",
    "maintenancestub",
    "_watcher",
}


def require(condition: object, internal: str, detail: str = "") -> None:
    if not condition:
        pytest.fail(
            f"aetcd {AETCD_VERSION} changed {internal}: tamarco.core.etcd's TamarcoEtcdClient "
            f"(connect/close override) needs updating{': ' + detail if detail else ''}",
            pytrace=False,
        )


def test_client_constructor_takes_what_the_subclass_passes():
    parameters = inspect.signature(aetcd.Client.__init__).parameters
    for name in ("host", "port", "username", "password", "timeout", "options", "connect_wait_timeout"):
        require(name in parameters, f"aetcd.Client.__init__ parameter {name!r}")


def test_client_keeps_its_connection_state_in_the_attributes_connect_uses():
    client = aetcd.Client(host="h", port=1, username="u", password="p", timeout=1, options={"a": 1})
    for name, value in (
        ("_host", "h"),
        ("_port", 1),
        ("_username", "u"),
        ("_password", "p"),
        ("_timeout", 1),
        ("_options", {"a": 1}),
        ("_is_connecting", False),
    ):
        require(getattr(client, name, object()) == value, f"aetcd.Client.{name}")
    require(isinstance(getattr(client, "_connected", None), asyncio.Event), "aetcd.Client._connected (an Event)")
    require(isinstance(getattr(client, "transactions", None), aetcd.client.Transactions), "aetcd.Client.transactions")


def test_init_channel_attrs_resets_exactly_what_connect_sets():
    require(callable(getattr(aetcd.Client, "_init_channel_attrs", None)), "aetcd.Client._init_channel_attrs")
    bare = object.__new__(aetcd.Client)
    bare._init_channel_attrs()
    require(
        set(vars(bare)) == CHANNEL_ATTRIBUTES,
        "aetcd.Client._init_channel_attrs",
        f"it sets {sorted(vars(bare))}, the override sets {sorted(CHANNEL_ATTRIBUTES)}",
    )


def test_connect_and_close_are_the_coroutines_the_subclass_overrides():
    for name in ("connect", "close"):
        method = getattr(aetcd.Client, name, None)
        require(method is not None and inspect.iscoroutinefunction(method), f"aetcd.Client.{name}")
        require(
            list(inspect.signature(method).parameters) == ["self"], f"aetcd.Client.{name} signature", "takes only self"
        )


async def test_requests_connect_through_the_overridden_connect():
    """aetcd connects lazily by calling ``self.connect()`` before each request: that is where
    the override adds TLS. If a release connected another way, TLS would silently be lost."""

    class Recording(TamarcoEtcdClient):
        connects = 0

        async def connect(self) -> None:
            Recording.connects += 1
            raise aetcd.exceptions.ConnectionFailedError("recorded")

    client = Recording(EtcdConnectionConfig(host="127.0.0.1", port=1))
    with pytest.raises(aetcd.exceptions.ConnectionFailedError):
        await client.get(b"/system/a")
    require(Recording.connects == 1, "aetcd.Client.get (no longer calls self.connect())")


def test_rpc_module_has_the_channel_factories_and_stubs_connect_uses():
    for name in ("AuthStub", "KVStub", "ClusterStub", "LeaseStub", "MaintenanceStub", "WatchStub"):
        require(callable(getattr(aetcd.rpc, name, None)), f"aetcd.rpc.{name}")
    require(aetcd.rpc.insecure_channel is grpc.aio.insecure_channel, "aetcd.rpc.insecure_channel")
    require(aetcd.rpc.secure_channel is grpc.aio.secure_channel, "aetcd.rpc.secure_channel")
    require(aetcd.rpc.AioRpcError is grpc.aio.AioRpcError, "aetcd.rpc.AioRpcError")
    request = aetcd.rpc.AuthenticateRequest(name="u", password="p")
    require((request.name, request.password) == ("u", "p"), "aetcd.rpc.AuthenticateRequest fields")


def test_watcher_takes_a_stub_timeout_and_metadata_and_can_be_shut_down():
    parameters = inspect.signature(aetcd.watcher.Watcher.__init__).parameters
    require(
        list(parameters)[:4] == ["self", "watchstub", "timeout", "metadata"], "aetcd.watcher.Watcher.__init__ signature"
    )
    watcher = aetcd.watcher.Watcher(object(), timeout=1, metadata=None)
    require(hasattr(watcher, "_request_handler"), "aetcd.watcher.Watcher._request_handler")
    require(inspect.iscoroutinefunction(aetcd.watcher.Watcher.shutdown), "aetcd.watcher.Watcher.shutdown")


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        (grpc.StatusCode.UNAVAILABLE, aetcd.exceptions.ConnectionFailedError),
        (grpc.StatusCode.DEADLINE_EXCEEDED, aetcd.exceptions.ConnectionTimeoutError),
        (grpc.StatusCode.UNAUTHENTICATED, aetcd.exceptions.UnauthenticatedError),
    ],
)
def test_handle_exception_maps_grpc_errors_to_client_errors(code, expected):
    handle = getattr(aetcd.exceptions, "_handle_exception", None)
    require(callable(handle), "aetcd.exceptions._handle_exception")
    error = grpc.aio.AioRpcError(code, grpc.aio.Metadata(), grpc.aio.Metadata(), details="etcd says no")
    with pytest.raises(aetcd.exceptions.ClientError) as raised:
        handle(error)
    require(type(raised.value) is expected, f"aetcd.exceptions._handle_exception for {code.name}")


def test_the_exceptions_the_retries_name_exist():
    for name in (
        "ClientError",
        "ConnectionFailedError",
        "ConnectionTimeoutError",
        "WatchTimeoutError",
        "UnauthenticatedError",
        "RevisionCompactedError",
    ):
        require(isinstance(getattr(aetcd.exceptions, name, None), type), f"aetcd.exceptions.{name}")


def test_a_broken_contract_names_the_internal_and_the_version():
    with pytest.raises(pytest.fail.Exception) as failure:
        require(False, "aetcd.Client._connected")
    assert str(failure.value).startswith(f"aetcd {AETCD_VERSION} changed aetcd.Client._connected: tamarco.core.etcd")
