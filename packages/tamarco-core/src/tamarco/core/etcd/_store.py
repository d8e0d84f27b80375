"""Reading and writing settings trees in etcd: what the settings backend and ``tamarco etcd`` share.

Writes are transactions: a value replaces what was at its key (a scalar replaces a subtree,
a dict replaces a scalar), and the stale keys go in the same transaction as the new ones, so
a watcher never sees a half-written dict. etcd refuses a transaction whose puts overlap its
deletes, so the stale keys are read first and deleted one by one.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from tamarco.core.etcd._client import CLOSE_TIMEOUT, request
from tamarco.core.etcd._config import EtcdConnectionConfig
from tamarco.core.etcd._deadlines import within
from tamarco.core.etcd._errors import EtcdCheckKeyTimeout
from tamarco.core.etcd._mapping import encode_value, etcd_key, flatten, prefix_range_end, tree_from_pairs
from tamarco.core.settings import keys

if TYPE_CHECKING:
    import aetcd

__all__ = ["MAX_TXN_OPS", "EtcdSettingsStore", "stale_keys_for"]

logger = logging.getLogger("tamarco.settings")

#: etcd's default ``--max-txn-ops``: larger writes are split into several transactions.
MAX_TXN_OPS = 128


class EtcdSettingsStore:
    """Settings-shaped reads and writes on one etcd client under one namespace.

    Every request is bounded (:func:`request`): one that etcd does not answer raises
    ``ConnectionTimeoutError`` naming the address instead of waiting forever.
    """

    def __init__(self, client: aetcd.Client, namespace: str = "", config: EtcdConnectionConfig | None = None) -> None:
        self.client = client
        self.namespace = namespace
        self.config: EtcdConnectionConfig = (
            config or getattr(client, "config", None) or EtcdConnectionConfig(host="etcd")
        )

    def key(self, dotted: str) -> bytes:
        return etcd_key(dotted, self.namespace)

    async def _request(self, awaitable: Any, what: str, discard: Any = None) -> Any:
        return await request(awaitable, self.config, what, discard)

    async def read_tree(self, root: str) -> tuple[dict[str, Any], int]:
        """Everything under ``root`` as ``({root: {...}}, revision)`` (``{}`` when empty)."""
        prefix = self.key(root) + b"/"
        response = await self._request(self.client.get_prefix(prefix), f"reading {prefix.decode()}")
        pairs = [(kv.key, kv.value) for kv in response.kvs]
        return tree_from_pairs(pairs, self.namespace), int(response.header.revision)

    async def read(self, dotted: str) -> Any:
        """The value at ``dotted``: a leaf, a whole subtree as a dict, or ``keys.MISSING``."""
        base = self.key(dotted)
        # "/" < "0": the key and its subtree
        response = await self._request(self.client.get_range(base, base + b"0"), f"reading {base.decode()}")
        pairs = [(kv.key, kv.value) for kv in response.kvs if _at_or_under(kv.key, base)]
        if not pairs:
            return keys.MISSING
        return keys.get_in(tree_from_pairs(pairs, self.namespace), dotted.split("."))

    async def write(self, items: Iterable[tuple[str, Any]], *, replace: bool = True) -> int:
        """Store each ``(dotted key, value)``; returns how many leaves were written.

        ``replace=True``: each key ends up holding exactly its value (keys under it that the
        value does not have are deleted). ``replace=False`` merges dicts into what is there.
        Either way a scalar replaces a subtree and a dict replaces a scalar. Values are
        validated first: a ``TypeError`` naming the key means nothing was written.
        """
        items = list(items)
        leaves: dict[bytes, bytes] = {}
        for dotted, value in items:
            for leaf_key, leaf_value in flatten(dotted, value):
                leaves[self.key(leaf_key)] = encode_value(leaf_key, leaf_value)
        stale: set[bytes] = set()
        for dotted, _ in items:
            base = self.key(dotted)
            existing = await self._keys_at(base)
            if replace:
                stale.update(existing)
            else:
                stale.update(stale_keys_for(existing, [leaf for leaf in leaves if _at_or_under(leaf, base)]))
            stale.update(await self._existing_ancestors(base))
        stale.difference_update(leaves)
        ops: list[Any] = [self.client.transactions.delete(k) for k in sorted(stale)]
        ops.extend(self.client.transactions.put(k, v) for k, v in leaves.items())
        for start in range(0, len(ops), MAX_TXN_OPS):
            await self._request(
                self.client.transaction(compare=[], success=ops[start : start + MAX_TXN_OPS], failure=[]),
                "a write transaction",
            )
        return len(leaves)

    async def delete(self, dotted: str) -> int:
        """Delete ``dotted`` and everything under it; returns how many etcd keys went."""
        base = self.key(dotted)
        _, responses = await self._request(
            self.client.transaction(
                compare=[],
                success=[
                    self.client.transactions.delete(base),
                    self.client.transactions.delete(base + b"/", prefix_range_end(base + b"/")),
                ],
                failure=[],
            ),
            f"deleting {base.decode()}",
        )
        return sum(int(response.response_delete_range.deleted) for response in responses)

    async def wait_for_key(
        self, dotted: str, timeout: float, config: EtcdConnectionConfig, configured_timeout: float | None = None
    ) -> None:
        """Return once ``dotted`` (or a key under it) exists; :class:`EtcdCheckKeyTimeout` after
        ``timeout``. Watches from the revision of the first read, so a put in between counts."""
        base = self.key(dotted)
        end = base + b"0"
        response = await self._request(self.client.get_range(base, end), f"reading {base.decode()}")
        if any(_at_or_under(kv.key, base) for kv in response.kvs):
            return
        logger.info(
            "waiting up to %g s for etcd key %s (ETCD_CHECK_KEY) at %s",
            round(timeout, 1),
            base.decode(),
            config.address,
        )
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        watch = await self._request(
            self.client.watch(base, range_end=end, start_revision=int(response.header.revision) + 1),
            f"creating a watch on {base.decode()}",
            discard=_cancel_watch,
        )
        try:
            iterator = watch.__aiter__()
            while True:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    raise TimeoutError
                event = await within(iterator.__anext__(), remaining)
                if event.kind == "PUT" and _at_or_under(event.kv.key, base):
                    logger.info("etcd key %s exists: reading the settings", base.decode())
                    return
        except TimeoutError:
            raise EtcdCheckKeyTimeout(
                f"etcd key {base.decode()} (ETCD_CHECK_KEY) did not appear in etcd at {config.address} "
                f"within {configured_timeout if configured_timeout is not None else timeout:g} s "
                "(TAMARCO_ETCD_CHECK_TIMEOUT)"
            ) from None
        finally:
            await _cancel_watch(watch)

    async def _keys_at(self, base: bytes) -> list[bytes]:
        """The etcd keys at ``base`` and under it."""
        response = await self._request(self.client.get_range(base, base + b"0"), f"reading {base.decode()}")
        return [kv.key for kv in response.kvs if _at_or_under(kv.key, base)]

    async def _existing_ancestors(self, base: bytes) -> list[bytes]:
        ancestors = _ancestors(base, self.namespace.encode())
        found = []
        for ancestor in ancestors:
            if await self._request(self.client.get(ancestor), f"reading {ancestor.decode()}") is not None:
                found.append(ancestor)
        return found


def _ancestors(key: bytes, namespace: bytes) -> list[bytes]:
    """``/ns/a/b/c`` → ``[/ns/a, /ns/a/b]`` (the namespace itself excluded)."""
    relative = key[len(namespace) :].strip(b"/").split(b"/")
    return [namespace + b"/" + b"/".join(relative[:depth]) for depth in range(1, len(relative))]


def _at_or_under(key: bytes, base: bytes) -> bool:
    return key == base or key.startswith(base + b"/")


async def _cancel_watch(watch: Any) -> None:
    try:
        await within(watch.cancel(), CLOSE_TIMEOUT)
    except Exception as error:  # cleanup: the client may be closed already
        logger.debug("cancelling an etcd watch: %s", error)


def stale_keys_for(existing: Sequence[bytes], leaves: Sequence[bytes]) -> list[bytes]:
    """Existing keys a write of ``leaves`` must remove: under a leaf, or a leaf's ancestor."""
    leaf_set = set(leaves)
    return sorted(
        k
        for k in existing
        if k not in leaf_set and any(k.startswith(leaf + b"/") or leaf.startswith(k + b"/") for leaf in leaves)
    )
