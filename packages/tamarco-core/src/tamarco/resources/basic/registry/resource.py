"""The service registry: each running instance announces itself in etcd under a lease.

When ``system.resources.<name>.enabled`` is true the instance writes
``<TAMARCO_ETCD_PREFIX>/<path>/<service name>/<instance id>`` (``path`` defaults to
``discovery``) with a JSON description (address, metadata), attached to an etcd lease of
``ttl_seconds`` that it keeps alive. A crashed or killed instance stops renewing, so etcd deletes
its key one TTL later; a stopping instance revokes the lease first thing, before its tasks and
resources stop, so no one is sent to an instance that is going away.

It registers once the whole service is up (after every resource's ``post_start`` and the start of
the tasks), through an ``on_running`` hook of the microservice (``service.hooks``); it
deregisters through an ``on_stopping`` hook. Restarted in place while the service runs
(``restart_resource``), it registers again in ``post_start``.
"""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import json
import logging
import os
import socket
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar, NoReturn

from tamarco.core.deadlines import Backoff, within
from tamarco.core.lifecycle import HookHandle, LifecycleHook, ServiceState
from tamarco.core.report_server import find_report_server
from tamarco.core.settings.reader import SettingsReader, SettingValueError
from tamarco.resources.bases import BaseResource, StatusCodes

if TYPE_CHECKING:
    from tamarco.core.etcd import EtcdConnectionConfig, TamarcoEtcdClient

__all__ = ["RegisteredInstance", "Registry", "RegistryError", "RegistrySettingsError", "RegistryWatch"]

DEFAULT_PATH = "discovery"
DEFAULT_TTL_SECONDS = 10
MIN_TTL_SECONDS = 2

InstancesCallback = Callable[[list["RegisteredInstance"]], Any]


# aetcd (and grpc under it) is imported only once the registry talks to etcd: it is a default
# resource, disabled by default, and importing them costs every service ~20 ms and ~11 MiB.


def _etcd_errors(*more: type[BaseException]) -> tuple[type[BaseException], ...]:
    """The errors of an etcd call that the registry survives (retries or logs), and ``more``."""
    import aetcd.exceptions
    from tamarco.core.etcd import RETRYABLE_ERRORS

    return (*RETRYABLE_ERRORS, aetcd.exceptions.ClientError, *more)


def _describe_error(error: BaseException) -> str:
    from tamarco.core.etcd import describe_error  # etcd's helpers: imported once the registry is used

    return describe_error(error)


async def _close_quietly(client: TamarcoEtcdClient | None) -> None:
    if client is not None:
        from tamarco.core.etcd import close_quietly

        await close_quietly(client)


class RegistryError(Exception):
    """The registry is misconfigured or cannot reach etcd; the message names the setting."""


class RegistrySettingsError(RegistryError, SettingValueError):
    """A wrong registry setting (or etcd not configured while it is enabled): the message names
    each full key; found at the settings check, with the other resources' wrong settings."""


@dataclasses.dataclass(frozen=True)
class RegisteredInstance:
    """One live instance of a service, as it registered itself."""

    service: str
    instance_id: str
    host: str | None
    port: int | None
    metadata: dict[str, Any]
    #: The whole registered document (also ``deploy_name``, ``pid``, ``registered_at``).
    data: dict[str, Any]

    @property
    def address(self) -> str | None:
        """``host:port`` (or just the host when no port was registered)."""
        if self.host is None:
            return None
        return self.host if self.port is None else f"{self.host}:{self.port}"

    @classmethod
    def from_json(cls, service: str, instance_id: str, raw: bytes) -> RegisteredInstance:
        try:
            data = json.loads(raw)
        except ValueError:
            data = {"raw": raw.decode("utf-8", errors="replace")}
        if not isinstance(data, dict):
            data = {"value": data}
        port = data.get("port")
        metadata = data.get("metadata")
        return cls(
            service=service,
            instance_id=instance_id,
            host=data.get("host"),
            port=port if isinstance(port, int) and not isinstance(port, bool) else None,
            metadata=metadata if isinstance(metadata, dict) else {},
            data=data,
        )


class RegistryWatch:
    """A running watch of one service's instances (``cancel()`` to end it)."""

    def __init__(self, task: asyncio.Task[None]) -> None:
        self._task = task

    async def cancel(self) -> None:
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)

    @property
    def active(self) -> bool:
        return not self._task.done()


class Registry(BaseResource):
    """Registers the instance in etcd while it runs; lists and watches the instances of services.

    Settings (``system.resources.<name>``): ``enabled`` (default false), ``path`` (dotted, default
    ``discovery``), ``ttl_seconds`` (default 10, at least 2), ``host`` (default: this machine's
    address), ``port`` (default: the report server's port, if the service has one), ``metadata``
    (a dict, default empty). etcd is the settings backend's, or the ``TAMARCO_ETCD_*`` variables.
    """

    loggers_names: ClassVar[tuple[str, ...]] = ("tamarco.registry",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.enabled = False
        self.path = DEFAULT_PATH
        self.ttl_seconds = DEFAULT_TTL_SECONDS
        self.key: str | None = None
        self.lease_id: int | None = None
        self._config: EtcdConnectionConfig | None = None
        self._client: TamarcoEtcdClient | None = None
        self._keepalive: asyncio.Task[None] | None = None
        self._watches: list[RegistryWatch] = []
        self._registered = asyncio.Event()
        self._hook_handles: list[HookHandle[LifecycleHook]] = []

    # -- lifecycle -----------------------------------------------------------------------

    async def check_settings(self) -> None:
        """The settings checked with the other resources', before any resource starts."""
        self._read_settings()

    def _read_settings(self) -> None:
        """Every setting, checked: all the wrong ones in one error (a lone one as it is)."""
        self._config = None
        read = SettingsReader(self._get, self._setting, error=RegistrySettingsError)
        with read.each():
            self.enabled = bool(self._get("enabled", False, expect=bool))
        self.path = str(self._get("path", DEFAULT_PATH))
        with read.each():
            ttl = self._get("ttl_seconds", DEFAULT_TTL_SECONDS)
            if isinstance(ttl, bool) or not isinstance(ttl, int) or ttl < MIN_TTL_SECONDS:
                self._wrong("ttl_seconds", f"must be an integer of at least {MIN_TTL_SECONDS}, got {ttl!r}")
            self.ttl_seconds = ttl
        if self.enabled:  # what registering needs, checked at start, not at registration
            for check in (self._connection_config, self._host, self._port, self._metadata):
                with read.each():
                    check()
        read.raise_problems()

    async def start(self) -> None:
        """Read and check the settings; when enabled, hook registration into the service."""
        # A resource declared on a class is shared by every instance of it: start afresh.
        self._registered = asyncio.Event()
        self.lease_id = None
        self._read_settings()
        if self.enabled:
            self._unhook()
            if self.microservice is not None:
                hooks = self.microservice.hooks
                self._hook_handles = [hooks.on_running(self._register), hooks.on_stopping(self._deregister)]
            self.logger.info("registry enabled: the instance registers under %s once the service runs", self.path)
        else:
            self.logger.debug("registry disabled (%s is false)", self._setting("enabled"))
        await super().start()

    async def post_start(self) -> None:
        """Register at once when restarted in place (the running hooks already ran)."""
        if self.enabled and self.microservice is not None and self.microservice.state == ServiceState.RUNNING:
            await self._register()
        await super().post_start()

    def _unhook(self) -> None:
        handles, self._hook_handles = self._hook_handles, []
        for handle in handles:
            handle.remove()

    async def stop(self) -> None:
        """Deregister (if the stopping hook did not already), end watches, close etcd."""
        await self._deregister()
        for watch in list(self._watches):
            await watch.cancel()
        self._watches.clear()
        self._unhook()
        client, self._client = self._client, None
        await _close_quietly(client)
        await super().stop()

    async def status(self) -> dict[str, Any]:
        info = await super().status()
        info.update({"enabled": self.enabled, "registered": self._registered.is_set(), "key": self.key})
        return info

    # -- registration --------------------------------------------------------------------

    def registration(self) -> dict[str, Any]:
        """The JSON document this instance registers."""
        assert self.microservice is not None
        host, port, metadata = self._host(), self._port(), self._metadata()
        if port is None:
            report_server = find_report_server(self.microservice)  # its port, when the service has one
            port = report_server.port if report_server is not None else None
        return {
            "service": self.microservice.name,
            "instance_id": self.microservice.instance_id,
            "host": host or _own_address(),
            "port": port,
            "metadata": copy.deepcopy(dict(metadata)),
            "deploy_name": getattr(self.microservice, "deploy_name", None),
            "pid": os.getpid(),
            "registered_at": time.time(),
        }

    def _get(self, key: str, default: Any, expect: Any = None) -> Any:
        return self.settings.get_nowait(key, default, expect=expect) if self.settings is not None else default

    def _host(self) -> str | None:
        host = self._get("host", None)
        if host is not None and (not isinstance(host, str) or not host):
            self._wrong("host", f"must be a host name or address, got {host!r}")
        return host

    def _port(self) -> int | None:
        port = self._get("port", None)
        if port is not None and (isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536):
            self._wrong("port", f"must be a port number (1-65535), got {port!r}")
        return port

    def _metadata(self) -> Mapping[str, Any]:
        metadata = self._get("metadata", {})
        if not isinstance(metadata, Mapping):
            self._wrong("metadata", f"must be a mapping, got {metadata!r}")
        return metadata

    def _wrong(self, key: str, problem: str) -> NoReturn:
        raise RegistrySettingsError(f"setting {self._setting(key)} {problem}")

    async def wait_registered(self, timeout: float | None = None) -> None:
        """Return once the instance is registered (``TimeoutError`` after ``timeout``)."""
        await asyncio.wait_for(self._registered.wait(), timeout)

    async def _register(self) -> None:
        """Running hook: register now if etcd answers, and keep the lease alive from then on."""
        assert self.microservice is not None
        self.key = self._instance_key(str(self.microservice.name), self.microservice.instance_id)
        if self._keepalive is None or self._keepalive.done():
            self._keepalive = asyncio.get_running_loop().create_task(
                self._keep_registered(), name=f"tamarco:registry:{self.microservice.name}"
            )

    async def _grant_and_put(self) -> None:
        client = self._etcd()
        lease = await client.lease(self.ttl_seconds)
        document = json.dumps(self.registration(), separators=(",", ":")).encode()
        assert self.key is not None
        from tamarco.core.etcd import etcd_key

        await client.put(etcd_key(self.key, self._connection_config().namespace), document, lease=lease.id)
        self.lease_id = lease.id
        self._registered.set()
        self.logger.info("registered %s in etcd (lease of %d s)", self.key, self.ttl_seconds)

    async def _keep_registered(self) -> None:
        """Register, then renew the lease every third of its TTL; re-register if it expired."""
        interval = self.ttl_seconds / 3
        outage = False
        while True:
            try:
                if self.lease_id is None:
                    await self._grant_and_put()
                else:
                    reply = await self._etcd().refresh_lease(self.lease_id)
                    if reply is None or reply.TTL <= 0:
                        self.logger.warning("registry lease of %s expired; registering again", self.key)
                        self.lease_id = None
                        self._registered.clear()
                        continue
                if outage:
                    self.logger.warning("registry: etcd reachable again, %s is registered", self.key)
                    outage = False
                    self.set_status(StatusCodes.STARTED)
            except asyncio.CancelledError:
                raise
            except _etcd_errors() as error:
                if not outage:
                    self.logger.warning(
                        "registry: cannot renew %s in etcd at %s (%s); retrying every %.1f s",
                        self.key,
                        self._connection_config().address,
                        _describe_error(error),
                        interval,
                    )
                    outage = True
                await self._reset_client()
            await asyncio.sleep(interval)

    async def _deregister(self) -> None:
        """Stopping hook: stop renewing and revoke the lease (etcd deletes the key at once)."""
        task, self._keepalive = self._keepalive, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        lease_id, self.lease_id = self.lease_id, None
        was_registered = self._registered.is_set()
        self._registered.clear()
        if lease_id is None:
            return
        try:
            from tamarco.core.etcd import request

            await request(self._etcd().revoke_lease(lease_id), self._connection_config(), "revoking the registry lease")
            if was_registered:
                self.logger.info("deregistered %s from etcd", self.key)
        except _etcd_errors() as error:
            self.logger.warning(
                "registry: could not deregister %s (%s); etcd removes it within %d s",
                self.key,
                _describe_error(error),
                self.ttl_seconds,
            )

    # -- discovery -----------------------------------------------------------------------

    async def instances(self, service_name: str) -> list[RegisteredInstance]:
        """The live instances of ``service_name``, sorted by instance id."""
        found, _ = await self._read_instances(service_name)
        return sorted(found.values(), key=lambda instance: instance.instance_id)

    async def watch(self, service_name: str, callback: InstancesCallback) -> RegistryWatch:
        """Call ``callback(instances)`` (sync or async) with the current list of live instances
        of ``service_name`` now and after every change, until the watch is cancelled or the
        resource stops. Survives etcd outages: after reconnecting it re-reads the list."""
        first = await self._read_instances(service_name)
        task = asyncio.get_running_loop().create_task(
            self._watch_instances(service_name, callback, first), name=f"tamarco:registry-watch:{service_name}"
        )
        watch = RegistryWatch(task)
        self._watches.append(watch)
        return watch

    async def _read_instances(self, service_name: str) -> tuple[dict[str, RegisteredInstance], int]:
        prefix = self._service_prefix(service_name)
        response = await self._etcd().get_prefix(prefix)
        found: dict[str, RegisteredInstance] = {}
        for kv in response.kvs:
            instance_id = kv.key[len(prefix) :].decode("utf-8", errors="replace")
            if instance_id and "/" not in instance_id:
                found[instance_id] = RegisteredInstance.from_json(service_name, instance_id, kv.value)
        return found, int(response.header.revision)

    async def _watch_instances(
        self,
        service_name: str,
        callback: InstancesCallback,
        first: tuple[dict[str, RegisteredInstance], int],
    ) -> None:
        prefix = self._service_prefix(service_name)
        current, revision = first
        await _call(callback, _sorted(current), self.logger)
        backoff = Backoff()
        while True:
            try:
                if revision < 0:
                    found, revision = await self._read_instances(service_name)
                    if found != current:
                        current = found
                        await _call(callback, _sorted(current), self.logger)
                watch = await self._etcd().watch_prefix(prefix, start_revision=revision + 1)
                backoff.reset()
                try:
                    async for event in watch:
                        instance_id = event.kv.key[len(prefix) :].decode("utf-8", errors="replace")
                        revision = max(revision, int(event.kv.mod_revision))
                        if not instance_id or "/" in instance_id:
                            continue
                        if event.kind == "PUT":
                            current[instance_id] = RegisteredInstance.from_json(
                                service_name, instance_id, event.kv.value
                            )
                        else:
                            current.pop(instance_id, None)
                        await _call(callback, _sorted(current), self.logger)
                finally:
                    await _cancel_quietly(watch)
            except asyncio.CancelledError:
                raise
            except _etcd_errors() as error:
                self.logger.debug("registry watch of %s interrupted: %s", service_name, _describe_error(error))
            revision = -1
            await self._reset_client()
            await backoff.sleep()

    # -- etcd ----------------------------------------------------------------------------

    def _connection_config(self) -> EtcdConnectionConfig:
        if self._config is not None:
            return self._config
        from tamarco.core.etcd import EtcdConfigurationError, EtcdConnectionConfig
        from tamarco.core.settings.backends.etcd import EtcdSettingsBackend

        backend = self.microservice.settings.backend if self.microservice is not None else None
        if isinstance(backend, EtcdSettingsBackend):
            self._config = backend.config
            return self._config
        environ = getattr(getattr(self.microservice, "settings", None), "_environ", None)
        try:
            self._config = EtcdConnectionConfig.from_environment(environ if environ is not None else os.environ)
        except EtcdConfigurationError as error:
            raise RegistrySettingsError(
                f"registry of {self.name or 'registry'} needs etcd: {error} "
                f"(it registers when {self._setting('enabled')} is true)"
            ) from None
        return self._config

    def _etcd(self) -> TamarcoEtcdClient:
        if self._client is None:
            self._client = self._connection_config().client()
        return self._client

    async def _reset_client(self) -> None:
        client, self._client = self._client, None
        await _close_quietly(client)

    def _instance_key(self, service_name: str, instance_id: str) -> str:
        return f"{self.path}.{service_name}.{instance_id}"

    def _service_prefix(self, service_name: str) -> bytes:
        if not service_name or "." in service_name or "/" in service_name:
            raise RegistryError(f"invalid service name {service_name!r} for the registry")
        from tamarco.core.etcd import etcd_key

        return etcd_key(f"{self.path}.{service_name}", self._connection_config().namespace) + b"/"

    def _setting(self, name: str) -> str:
        return f"system.resources.{self.name or 'registry'}.{name}"


def _sorted(found: Mapping[str, RegisteredInstance]) -> list[RegisteredInstance]:
    return [found[key] for key in sorted(found)]


async def _call(callback: InstancesCallback, instances: list[RegisteredInstance], logger: logging.Logger) -> None:
    try:
        result = callback(instances)
        if isinstance(result, Awaitable):
            await result
    except Exception:
        logger.exception("registry watch callback %r failed", callback)


async def _cancel_quietly(watch: Any) -> None:
    try:
        await within(watch.cancel(), 1)
    except _etcd_errors(asyncio.TimeoutError, OSError):
        pass


def _own_address() -> str:
    """This machine's address as other hosts would reach it (loopback when it has no name)."""
    try:
        return socket.gethostbyname(socket.gethostname())
    except OSError:
        return "127.0.0.1"
