"""Settings in etcd v3 (``TAMARCO_ETCD_HOST``), pushed live to the service.

The connection (configuration, TLS and auth, deadlines, retries) and the key mapping are
:mod:`tamarco.core.etcd`'s; this module is the settings backend on top of them.

Keys and values: ``system.logging.profile`` is the etcd key
``<TAMARCO_ETCD_PREFIX>/system/logging/profile`` holding the JSON ``"DEVELOP"``; a dict is a
subtree. The tree under ``system`` is read at start; from the revision of that read on, a watch
reports every put and delete to the settings, so nothing changed in between is missed.

When the connection drops (etcd restarts, the network fails) the service keeps its cached
settings, logs the outage once, reconnects with backoff, re-reads the tree (the settings fire
watchers for whatever changed meanwhile) and watches again from that read's revision.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import time
from collections.abc import Mapping
from typing import Any

import aetcd.exceptions
from tamarco.core.etcd import (
    RETRYABLE_ERRORS,
    Backoff,
    EtcdCheckKeyTimeout,
    EtcdConfigurationError,
    EtcdConnectionConfig,
    EtcdError,
    EtcdSettingsStore,
    EtcdUnavailableError,
    TamarcoEtcdClient,
    close_quietly,
    decode_value,
    describe_error,
    request,
    request_bound,
    retry_until,
    settings_key,
    within,
)
from tamarco.core.settings import keys
from tamarco.core.settings.backends.interface import SettingsBackend, SettingsSink

__all__ = [
    "EtcdCheckKeyTimeout",
    "EtcdConfigurationError",
    "EtcdConnectionConfig",
    "EtcdError",
    "EtcdSettingsBackend",
    "EtcdUnavailableError",
]

logger = logging.getLogger("tamarco.settings")

ROOT = "system"


class EtcdSettingsBackend(SettingsBackend):
    """The settings tree under ``system`` in etcd, kept up to date by a watch."""

    def __init__(self, config: EtcdConnectionConfig, root: str = ROOT) -> None:
        self.config = config
        self.root = root
        self.description = f"etcd {config.address}{config.namespace or ''}/{root}"
        self._client: TamarcoEtcdClient | None = None
        #: The tree as etcd has it, and the revision it reflects.
        self._mirror: dict[str, Any] = {}
        self._revision = 0
        self._checked = False
        self._sink: SettingsSink | None = None
        self._watch_task: asyncio.Task[None] | None = None
        self._closing = False
        #: Set while the watch is established; cleared during an outage.
        self.watching = asyncio.Event()
        #: How many times the watch was re-established after an outage.
        self.reconnections = 0
        #: ``time.time()`` when the current outage began (None while connected), and why.
        self.degraded_since: float | None = None
        self.degraded_reason: str | None = None

    @classmethod
    def from_environment(cls, environ: Mapping[str, str]) -> EtcdSettingsBackend:
        """The backend configured by the ``TAMARCO_ETCD_*`` variables (see docs/settings.md)."""
        return cls(EtcdConnectionConfig.from_environment(environ))

    def __repr__(self) -> str:
        return f"<EtcdSettingsBackend {self.description}>"

    # -- the client ----------------------------------------------------------------------

    @property
    def client(self) -> TamarcoEtcdClient:
        if self._client is None:
            self._client = self.config.client()
        return self._client

    @property
    def store(self) -> EtcdSettingsStore:
        return EtcdSettingsStore(self.client, self.config.namespace, self.config)

    async def _reset_client(self) -> None:
        client, self._client = self._client, None
        await close_quietly(client)

    # -- SettingsBackend -----------------------------------------------------------------

    async def load(self) -> dict[str, Any]:
        """Wait for etcd (and ``ETCD_CHECK_KEY``), then read the tree under ``system``.

        Unreachable etcd is retried with backoff for ``TAMARCO_ETCD_STARTUP_TIMEOUT`` seconds,
        then :class:`EtcdUnavailableError` names the address.
        """
        try:
            return await self._load()
        except aetcd.exceptions.ClientError as error:  # not retryable: refused, bad request
            who = f" as user {self.config.user}" if self.config.user else ""
            raise EtcdError(
                f"etcd at {self.config.address} refused to serve the settings{who}: {describe_error(error)}"
            ) from None

    async def _load(self) -> dict[str, Any]:
        if not self._checked and self.config.check_key:
            check_key = _dotted(self.config.check_key)
            loop = asyncio.get_running_loop()
            check_deadline = loop.time() + self.config.check_timeout
            await retry_until(
                lambda: self.store.wait_for_key(
                    check_key, max(0.0, check_deadline - loop.time()), self.config, self.config.check_timeout
                ),
                config=self.config,
                timeout=self.config.startup_timeout,
                what=f"waiting for ETCD_CHECK_KEY {self.config.check_key}",
                on_retry=self._reset_client,
                # the wait itself may last TAMARCO_ETCD_CHECK_TIMEOUT; each request in it is bounded
                attempt_timeout=None,
            )
        self._checked = True
        tree, revision = await retry_until(
            self._read_tree,
            config=self.config,
            timeout=self.config.startup_timeout,
            what=f"reading the settings under {self.root}",
            on_retry=self._reset_client,
        )
        if revision >= self._revision:
            self._mirror, self._revision = tree, revision
        logger.debug("read %d settings from %s at revision %d", _count_leaves(tree), self.description, revision)
        return copy.deepcopy(tree)

    async def set(self, key: str, value: Any) -> None:
        """Store ``value`` at ``key`` (a dict as a subtree, replacing what was there).

        ``TypeError`` naming the key for a value JSON cannot hold; :class:`EtcdUnavailableError`
        when etcd cannot be reached.
        """
        await self._write(lambda store: store.write([(key, value)], replace=True), f"setting {key}")

    async def delete(self, key: str) -> None:
        """Delete ``key`` and everything under it."""
        await self._write(lambda store: store.delete(key), f"deleting {key}")

    async def watch(self, sink: SettingsSink) -> None:
        """Report every change under ``system`` to ``sink``, from the revision ``load`` read."""
        self._sink = sink
        if self._watch_task is None or self._watch_task.done():
            self._closing = False
            self._watch_task = asyncio.get_running_loop().create_task(
                self._watch_forever(), name=f"tamarco:etcd-watch:{self.config.address}"
            )

    async def close(self) -> None:
        """Stop watching and close the connection, promptly whatever state it is in."""
        self._closing = True
        task, self._watch_task = self._watch_task, None
        if task is not None:
            await _stop_task(task, request_bound(self.config), self.config.address)
        self.watching.clear()
        await self._reset_client()

    # -- internals -----------------------------------------------------------------------

    async def _read_tree(self) -> tuple[dict[str, Any], int]:
        return await self.store.read_tree(self.root)

    async def _write(self, operation: Any, what: str) -> Any:
        try:
            try:
                return await operation(self.store)
            except aetcd.exceptions.UnauthenticatedError:
                if not self.config.user:
                    raise
                # An expired auth token: a new connection authenticates again.
                await self._reset_client()
                return await operation(self.store)
        except RETRYABLE_ERRORS as error:
            raise EtcdUnavailableError(
                f"etcd at {self.config.address} is unreachable: {what} failed ({describe_error(error)})"
            ) from None
        except aetcd.exceptions.ClientError as error:
            raise EtcdError(f"etcd at {self.config.address}: {what} failed ({describe_error(error)})") from None

    async def _watch_forever(self) -> None:
        """Watch; after every failure reconnect (backoff), re-read the tree, watch again."""
        loop = asyncio.get_running_loop()
        outage_started: float | None = None
        need_resync = self._revision == 0
        backoff = Backoff()
        while not self._closing:
            error: BaseException
            try:
                if need_resync:
                    await self._resync()
                    need_resync = False
                watch = await request(
                    self.client.watch_prefix(self._prefix(), start_revision=self._revision + 1),
                    self.config,
                    f"creating a watch on {self._prefix().decode()}",
                    discard=_cancel_quietly,
                )
                if self._closing or _cancel_requested():
                    # aetcd waits for the watch with asyncio.wait_for, which on Python 3.11 and
                    # older returns the result when the cancellation of close() arrives as the
                    # watch is created, swallowing it: this task would then watch forever.
                    await _cancel_quietly(watch)
                    raise asyncio.CancelledError
                if outage_started is not None:
                    self.reconnections += 1
                    logger.warning(
                        "etcd at %s is reachable again after %.1f s: settings re-read, watching again",
                        self.config.address,
                        loop.time() - outage_started,
                    )
                    outage_started = None
                    self.degraded_since = self.degraded_reason = None
                backoff.reset()
                self.watching.set()
                await self._consume(watch)
                error = aetcd.exceptions.ConnectionFailedError("the watch stream ended")
            except asyncio.CancelledError:
                raise
            except aetcd.exceptions.RevisionCompactedError:
                logger.warning("etcd history is compacted past revision %d; re-reading the settings", self._revision)
                need_resync = True
                continue
            except (*RETRYABLE_ERRORS, aetcd.exceptions.ClientError) as failure:
                error = failure
            self.watching.clear()
            if self._closing:
                return
            need_resync = True
            if outage_started is None:
                outage_started = loop.time()
                self.degraded_since, self.degraded_reason = time.time(), describe_error(error)
                logger.warning(
                    "lost the connection to etcd at %s (%s); serving the cached settings and "
                    "reconnecting (logged once until it is back)",
                    self.config.address,
                    describe_error(error),
                )
            else:
                logger.debug("etcd at %s still unreachable: %s", self.config.address, describe_error(error))
            await self._reset_client()
            await backoff.sleep()

    def _prefix(self) -> bytes:
        return self.store.key(self.root) + b"/"

    async def _resync(self) -> None:
        """Read the tree and hand it to the sink (which fires the watchers of what changed)."""
        tree, revision = await self._read_tree()
        self._mirror, self._revision = tree, revision
        if self._sink is not None:
            await self._sink.external_reloaded(copy.deepcopy(tree))

    async def _consume(self, watch: Any) -> None:
        """Apply the events of one watch stream until it fails (raises) or ends (returns).

        A pump task moves events into a queue so that everything already received is applied
        as one batch (one etcd transaction arrives as several events of one revision).
        """
        queue: asyncio.Queue[Any] = asyncio.Queue()
        ended = object()

        async def pump() -> None:
            try:
                async for event in watch:
                    queue.put_nowait(event)
                queue.put_nowait(ended)
            except Exception as error:  # handed over to the consumer, which raises it
                queue.put_nowait(error)

        pumping = asyncio.get_running_loop().create_task(pump(), name="tamarco:etcd-watch-pump")
        try:
            while not self._closing:
                batch = [await queue.get()]
                while not queue.empty():
                    batch.append(queue.get_nowait())
                events = [item for item in batch if not isinstance(item, BaseException) and item is not ended]
                if events:
                    await self._apply(events)
                for item in batch:
                    if isinstance(item, BaseException):
                        raise item
                    if item is ended:
                        return
        finally:
            pumping.cancel()
            await asyncio.wait({pumping}, timeout=1)
            await _cancel_quietly(watch)

    async def _apply(self, events: list[Any]) -> None:
        """Apply watch events to the mirror and report them: one event as one change, several
        (a transaction, or a burst) as one reload so watchers never see a half-applied write."""
        changed: list[tuple[str, Any]] = []
        for event in events:
            revision = int(event.kv.mod_revision)
            if revision <= self._revision:
                continue  # already in the tree read at that revision
            dotted = settings_key(event.kv.key, self.config.namespace)
            if dotted is None:
                logger.warning(
                    "etcd key %r cannot be a settings key; change ignored",
                    event.kv.key.decode("utf-8", errors="replace"),
                )
                continue
            parts = dotted.split(".")
            if event.kind == "PUT":
                _put(self._mirror, parts, decode_value(dotted, event.kv.value))
            else:
                keys.delete_in(self._mirror, parts)
            changed.append((dotted, keys.get_in(self._mirror, parts)))
        if events:
            self._revision = max(self._revision, max(int(event.kv.mod_revision) for event in events))
        if self._sink is None or not changed:
            return
        if len(changed) == 1:
            dotted, value = changed[0]
            await self._sink.external_changed(dotted, value if value is keys.MISSING else copy.deepcopy(value))
        else:
            await self._sink.external_reloaded(copy.deepcopy(self._mirror))


async def _cancel_quietly(watch: Any) -> None:
    """Cancel a watch, whose client may be closed already (aetcd then fails on its own
    attributes): this is cleanup, it must neither raise nor wait long."""
    try:
        await within(watch.cancel(), 1)
    except Exception as error:
        logger.debug("cancelling the etcd watch: %s", describe_error(error))


def _cancel_requested() -> bool:
    """Whether the current task was asked to cancel, even if a callee swallowed the
    ``CancelledError`` (``Task.cancelling``, Python 3.11+)."""
    task = asyncio.current_task()
    cancelling = getattr(task, "cancelling", None)
    return bool(cancelling()) if cancelling is not None else False


async def _stop_task(task: asyncio.Task[Any], timeout: float, address: str) -> None:
    """Cancel ``task`` and wait for it, at most ``timeout`` seconds.

    Cancels again while it runs: a cancellation can be swallowed on its way (``wait_for`` on
    Python 3.11 and older), and one ``cancel()`` then leaves the task running forever.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    wait = 1.0  # the first cancellation gets time to run the task's cleanup
    while not task.done():
        task.cancel()
        remaining = deadline - loop.time()
        if remaining <= 0:
            logger.warning("the etcd watch task for %s did not stop within %g s; abandoned", address, timeout)
            task.add_done_callback(_retrieve_result)
            return
        await asyncio.wait({task}, timeout=min(wait, remaining))
        wait = 0.2
    _retrieve_result(task)


def _retrieve_result(task: asyncio.Future[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        logger.debug("the etcd watch task ended with %s", describe_error(task.exception()))  # type: ignore[arg-type]


def _put(tree: dict[str, Any], parts: list[str], value: Any) -> None:
    """Put a value as a fresh read would see it: a subtree already there wins over a scalar
    put at its root, and a dict put at its root merges under it."""
    existing = keys.get_in(tree, parts)
    if isinstance(existing, dict) and existing:
        if isinstance(value, dict):
            keys.set_in(tree, parts, keys.deep_merge(value, existing))
        return
    keys.set_in(tree, parts, value)


def _dotted(key: str) -> str:
    """``ETCD_CHECK_KEY`` as a dotted key: ``/etcd_ready`` and ``etcd_ready`` are the same."""
    stripped = key.strip().strip("/")
    return stripped.replace("/", ".") if "/" in stripped else stripped


def _count_leaves(tree: Mapping[str, Any]) -> int:
    return sum(1 for _ in keys.iter_leaves(tree))
