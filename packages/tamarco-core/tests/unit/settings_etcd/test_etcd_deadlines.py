"""Nothing in the etcd backend waits forever: start, stop, reads and writes end within their
timeouts whatever etcd does (never answers, answers as it is being closed), with an error
naming the address. No etcd needed: fakes and a loopback socket that never answers."""

import asyncio
import time

import aetcd.client
import pytest
from tamarco.core.etcd import _client as etcd_client
from tamarco.core.etcd import request_bound
from tamarco.core.settings import Settings
from tamarco.core.settings.backends.etcd import EtcdConnectionConfig, EtcdSettingsBackend, EtcdUnavailableError


async def ends_within(awaitable, seconds):
    """``awaitable``'s outcome (result or exception), or a failure if it takes longer than
    ``seconds``. (Not ``asyncio.wait_for``: on Python 3.11 it can itself swallow a cancel.)"""
    task = asyncio.ensure_future(awaitable)
    started = time.monotonic()
    done, _ = await asyncio.wait({task}, timeout=seconds)
    if not done:
        task.cancel()
        pytest.fail(f"still waiting after {seconds} s")
    return task, time.monotonic() - started


class IdleWatch:
    """A watch on which nothing ever changes."""

    def __init__(self):
        self.cancelled = False

    def __aiter__(self):
        return self

    async def __anext__(self):
        await asyncio.get_running_loop().create_future()  # never

    async def cancel(self):
        self.cancelled = True


class WatchCreatedAsClosing:
    """Creates a watch the way aetcd does (``asyncio.wait_for`` on the server's answer) and
    lets the test deliver that answer at the moment ``close()`` cancels the watch task."""

    def __init__(self):
        self.asked = asyncio.Event()
        self.answered = asyncio.Event()
        self.watch = IdleWatch()
        self.closed = False

    async def watch_prefix(self, prefix, start_revision=None):
        self.asked.set()
        await asyncio.wait_for(self.answered.wait(), 5)
        return self.watch

    async def close(self):
        self.closed = True


async def test_close_ends_when_the_watch_is_created_as_close_cancels_the_watch_task():
    """The soak-run hang: ``settings.stop()`` waited forever for the watch task. On Python
    3.11 the ``wait_for`` inside aetcd's watch creation returns the new watch when the
    cancellation arrives together with etcd's answer, swallowing the cancellation; the task
    then sat on its idle watch and ``close()`` awaited it forever."""
    backend = EtcdSettingsBackend(EtcdConnectionConfig(host="10.9.8.7", request_timeout=0.5))
    backend._revision = 5  # loaded
    client = backend._client = WatchCreatedAsClosing()
    await backend.watch(sink=None)
    await client.asked.wait()

    client.answered.set()  # etcd answers...
    task, elapsed = await ends_within(backend.close(), 5)  # ...as close() cancels
    task.result()
    assert elapsed < 2
    assert client.watch.cancelled and client.closed
    assert not backend.watching.is_set()


class NeverAnswers:
    """An etcd client whose every request waits forever (a lost completion, a frozen etcd)."""

    def __init__(self):
        self.transactions = aetcd.client.Transactions()
        self.config = None

    async def _forever(self, *args, **kwargs):
        await asyncio.get_running_loop().create_future()

    get = get_prefix = get_range = transaction = watch = watch_prefix = close = _forever


@pytest.fixture
def quick_close(monkeypatch):
    monkeypatch.setattr(etcd_client, "CLOSE_TIMEOUT", 0.2)


async def test_start_set_and_stop_end_within_their_timeouts_when_etcd_never_answers(quick_close):
    config = EtcdConnectionConfig(host="10.9.8.7", port=2399, startup_timeout=1.0, request_timeout=0.2)
    backend = EtcdSettingsBackend(config)
    backend._client = NeverAnswers()
    settings = Settings("dog", backend=backend)

    task, elapsed = await ends_within(settings.start(), 5)
    with pytest.raises(EtcdUnavailableError) as error:
        task.result()
    assert "10.9.8.7:2399" in str(error.value) and "TAMARCO_ETCD_STARTUP_TIMEOUT" in str(error.value)
    assert 0.9 < elapsed < config.startup_timeout + request_bound(config) + 0.5

    backend._client = NeverAnswers()
    task, elapsed = await ends_within(settings.set("system.a", 1), 5)
    with pytest.raises(EtcdUnavailableError) as error:
        task.result()
    assert "10.9.8.7:2399" in str(error.value) and "TAMARCO_ETCD_TIMEOUT" in str(error.value)
    assert elapsed < request_bound(config) + 0.5

    backend._client = NeverAnswers()
    await backend.watch(settings)  # a watch task stuck creating its watch
    await asyncio.sleep(0.05)
    task, elapsed = await ends_within(settings.stop(), 5)
    task.result()
    assert elapsed < 2


async def test_a_real_client_gives_up_on_a_server_that_never_answers(silent_port):
    port = silent_port
    env = {
        "TAMARCO_ETCD_HOST": "127.0.0.1",
        "TAMARCO_ETCD_PORT": str(port),
        "TAMARCO_ETCD_STARTUP_TIMEOUT": "1",
        "TAMARCO_ETCD_TIMEOUT": "0.3",
    }
    for extra in ({}, {"TAMARCO_ETCD_USER": "root", "TAMARCO_ETCD_PASSWORD": "never-shown"}):
        settings = Settings("dog", environ={**env, **extra})
        task, elapsed = await ends_within(settings.start(), 10)
        with pytest.raises(EtcdUnavailableError) as error:
            task.result()
        assert f"127.0.0.1:{port}" in str(error.value) and "never-shown" not in str(error.value)
        assert elapsed < 1 + request_bound(settings.backend.config) + 0.5
        task, elapsed = await ends_within(settings.stop(), 5)
        task.result()
        assert elapsed < 1
