"""How the etcd backend turns watch events and failures into settings changes (no etcd)."""

import pytest
from tamarco.core.logging.testing import capture_logs
from tamarco.core.settings import Settings
from tamarco.core.settings.backends.etcd import EtcdConnectionConfig, EtcdSettingsBackend, _dotted, _put
from tamarco.core.settings.keys import MISSING
from tamarco.core.settings.settings import backend_from_environment

SECRET = "s3cr3t-pa55"


class KV:
    def __init__(self, key, value=b"", mod_revision=0):
        self.key, self.value, self.mod_revision = key, value, mod_revision


class Event:
    def __init__(self, kind, key, value=b"", revision=0):
        self.kind = kind
        self.kv = KV(key, value, revision)


class Sink:
    def __init__(self):
        self.calls = []

    async def external_changed(self, key, value):
        self.calls.append(("changed", key, value))

    async def external_reloaded(self, tree):
        self.calls.append(("reloaded", tree))


def backend_with(tree, revision=10):
    backend = EtcdSettingsBackend(EtcdConnectionConfig(host="h", namespace="/ns"))
    backend._mirror, backend._revision = tree, revision
    backend._sink = Sink()
    return backend


async def test_one_event_is_one_change():
    backend = backend_with({"system": {"a": 1}})
    await backend._apply([Event("PUT", b"/ns/system/b/c", b'{"x": [1]}', 11)])
    await backend._apply([Event("DELETE", b"/ns/system/a", revision=12)])
    assert backend._sink.calls == [("changed", "system.b.c", {"x": [1]}), ("changed", "system.a", MISSING)]
    assert backend._mirror == {"system": {"b": {"c": {"x": [1]}}}}
    assert backend._revision == 12


async def test_a_batch_is_one_reload_so_watchers_never_see_half_a_transaction():
    backend = backend_with({"system": {"db": {"host": "old", "port": 1}}})
    await backend._apply(
        [
            Event("DELETE", b"/ns/system/db/host", revision=11),
            Event("PUT", b"/ns/system/db/port", b"2", 11),
            Event("PUT", b"/ns/system/db/url", b'"x"', 11),
        ]
    )
    assert backend._sink.calls == [("reloaded", {"system": {"db": {"port": 2, "url": "x"}}})]
    # The sink gets a copy: changing it does not change the backend's mirror.
    backend._sink.calls[0][1]["system"]["db"]["port"] = 99
    assert backend._mirror["system"]["db"]["port"] == 2


async def test_events_already_in_the_read_tree_are_skipped():
    backend = backend_with({"system": {"a": 2}}, revision=20)
    await backend._apply([Event("PUT", b"/ns/system/a", b"1", 19), Event("PUT", b"/ns/system/a", b"2", 20)])
    assert backend._sink.calls == []
    assert backend._mirror == {"system": {"a": 2}}


async def test_unmappable_keys_and_bad_json_are_reported_not_fatal():
    backend = backend_with({"system": {}})
    with capture_logs() as logs:
        await backend._apply([Event("PUT", b"/ns/system/a.b", b"1", 11)])
        await backend._apply([Event("PUT", b"/ns/system/raw", b"{oops", 12)])
    assert backend._sink.calls == [("changed", "system.raw", "{oops")]
    assert logs.find(contains="/ns/system/a.b")
    assert logs.find(contains="system.raw", level="WARNING")


async def test_backend_changes_reach_settings_watchers():
    backend = backend_with({"system": {"a": 1}})
    settings = Settings("dog", backend=backend)
    settings._external = {"system": {"a": 1}}
    backend._sink = settings
    seen = []
    await settings.watch("system", lambda key, value: seen.append((key, value)))
    await backend._apply([Event("PUT", b"/ns/system/a", b"2", 11)])
    await backend._apply([Event("DELETE", b"/ns/system/a", b"", 12)])
    assert seen == [("system.a", 2), ("system.a", None)]


def test_put_keeps_what_a_fresh_read_would_see():
    tree = {"system": {"a": {"b": 1}}}
    _put(tree, ["system", "a"], 5)  # a scalar at the root of a subtree is shadowed by it
    assert tree == {"system": {"a": {"b": 1}}}
    _put(tree, ["system", "a"], {"x": 2, "b": 0})  # a dict there merges under the subtree
    assert tree == {"system": {"a": {"b": 1, "x": 2}}}
    _put(tree, ["system", "c", "d"], 3)
    assert tree["system"]["c"] == {"d": 3}


@pytest.mark.parametrize(
    ("raw", "dotted"), [("etcd_ready", "etcd_ready"), ("/etcd_ready", "etcd_ready"), ("/a/b", "a.b")]
)
def test_check_key_accepts_dotted_or_slash_forms(raw, dotted):
    assert _dotted(raw) == dotted


def test_the_environment_selects_the_etcd_backend():
    backend = backend_from_environment({"TAMARCO_ETCD_HOST": "h", "TAMARCO_YML_FILE": "ignored.yml"})
    assert isinstance(backend, EtcdSettingsBackend)
    assert backend.description == "etcd h:2379/system"


def test_the_password_is_not_in_the_backend_description():
    backend = EtcdSettingsBackend(EtcdConnectionConfig(host="h", user="svc", password=SECRET))
    for text in (backend.description, repr(backend), repr(backend.client)):
        assert SECRET not in text
