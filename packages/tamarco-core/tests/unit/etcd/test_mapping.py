"""The settings ↔ etcd key/value mapping shared by the settings backend, the CLI and the registry."""

import math

import pytest
from tamarco.core.etcd import (
    decode_value,
    encode_value,
    etcd_key,
    flatten,
    normalize_namespace,
    prefix_range_end,
    settings_key,
    tree_from_pairs,
)
from tamarco.core.etcd._store import _ancestors, stale_keys_for
from tamarco.core.logging.testing import capture_logs


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [("", ""), ("/", ""), (None, ""), ("tenant", "/tenant"), ("/a/b/", "/a/b"), ("a//b", "/a/b")],
)
def test_namespace_is_normalized(raw, normalized):
    assert normalize_namespace(raw) == normalized


def test_dotted_keys_map_to_slash_joined_etcd_keys_and_back():
    assert etcd_key("system.logging.profile") == b"/system/logging/profile"
    assert etcd_key("system.logging.profile", "/staging") == b"/staging/system/logging/profile"
    assert settings_key(b"/staging/system/logging/profile", "/staging") == "system.logging.profile"
    assert settings_key(b"/system/a", "") == "system.a"


@pytest.mark.parametrize("key", ["", "system..a", "system.a/b", ".system"])
def test_unusable_keys_are_rejected_naming_the_key(key):
    with pytest.raises(ValueError, match="invalid settings key"):
        etcd_key(key)


@pytest.mark.parametrize("raw", [b"/other/system/a", b"/staging/system/a.b", b"/staging//a", b"/staging/\xff"])
def test_keys_that_cannot_be_settings_are_none(raw):
    assert settings_key(raw, "/staging") is None


@pytest.mark.parametrize("value", [1, -7, 2**70, 0.5, 1.0, True, False, None, "yes", "1.10", [1, "a", None, [2]], {}])
def test_values_keep_their_type_through_json(value):
    decoded = decode_value("k", encode_value("k", value))
    assert decoded == value and type(decoded) is type(value)


@pytest.mark.parametrize("value", [object(), {1, 2}, b"bytes", math.nan, math.inf])
def test_a_value_json_cannot_hold_is_a_type_error_naming_the_key(value):
    with pytest.raises(TypeError, match=r"setting system\.resources\.x"):
        encode_value("system.resources.x", value)


def test_invalid_json_warns_naming_the_key_and_returns_the_raw_string():
    with capture_logs() as logs:
        assert decode_value("system.legacy", b"not json {") == "not json {"
    record = logs.find(level="WARNING")
    assert "system.legacy" in record.message and "not json {" in record.message


def test_dicts_are_subtrees_and_empty_dicts_are_leaves():
    value = {"a": 1, "b": {"c": [1, 2], "d": {}}, "e": {"f": None}}
    assert flatten("system.x", value) == [
        ("system.x.a", 1),
        ("system.x.b.c", [1, 2]),
        ("system.x.b.d", {}),
        ("system.x.e.f", None),
    ]
    assert flatten("system.x", 3) == [("system.x", 3)]
    assert flatten("system.x", {}) == [("system.x", {})]


def test_non_string_or_unusable_dict_keys_are_errors_naming_the_key():
    with pytest.raises(TypeError, match=r"setting system\.codes: key 404 is a int"):
        flatten("system.codes", {404: "not found"})
    with pytest.raises(TypeError, match=r"key True is a bool"):
        flatten("system.flags", {True: 1})
    with pytest.raises(ValueError, match=r"setting system\.x: key 'a\.b'"):
        flatten("system.x", {"a.b": 1})


def test_tree_from_pairs_builds_nested_dicts():
    pairs = [
        (b"/ns/system/a/b", b"1"),
        (b"/ns/system/a/c", b'"x"'),
        (b"/ns/system/list", b"[1, 2]"),
        (b"/ns/system/empty", b"{}"),
    ]
    assert tree_from_pairs(pairs, "/ns") == {"system": {"a": {"b": 1, "c": "x"}, "list": [1, 2], "empty": {}}}


def test_a_subtree_wins_over_a_scalar_at_its_root():
    pairs = [(b"/system/a", b"5"), (b"/system/a/b", b"1")]
    assert tree_from_pairs(pairs) == {"system": {"a": {"b": 1}}}
    pairs = [(b"/system/a", b'{"x": 1, "b": 0}'), (b"/system/a/b", b"1")]
    assert tree_from_pairs(pairs) == {"system": {"a": {"x": 1, "b": 1}}}


def test_unmappable_keys_are_skipped_with_a_warning():
    with capture_logs() as logs:
        tree = tree_from_pairs([(b"/system/a.b", b"1"), (b"/system/ok", b"2")])
    assert tree == {"system": {"ok": 2}}
    assert "/system/a.b" in logs.find(level="WARNING").message


def test_stale_keys_of_a_write():
    existing = [b"/s/a", b"/s/a/b", b"/s/c/d", b"/s/e"]
    # Writing /s/a/b/x removes the scalar ancestors /s/a and /s/a/b; writing /s/c removes /s/c/d.
    assert stale_keys_for(existing, [b"/s/a/b/x", b"/s/c"]) == [b"/s/a", b"/s/a/b", b"/s/c/d"]
    assert _ancestors(b"/ns/system/a/b", b"/ns") == [b"/ns/system", b"/ns/system/a"]
    assert _ancestors(b"/system", b"") == []


@pytest.mark.parametrize(("prefix", "end"), [(b"/a/", b"/a0"), (b"a\xff", b"b"), (b"\xff\xff", b"\x00")])
def test_prefix_range_end_selects_every_key_under_the_prefix(prefix, end):
    assert prefix_range_end(prefix) == end
