"""tamarco.core.settings.reader: the one typed reader of resources' and policies' settings."""

from __future__ import annotations

from typing import Any

import pytest
from tamarco.core.messaging import MessagingSettingsError
from tamarco.core.settings.reader import SettingsReader, SettingValueError, problems_of
from tamarco.core.settings.settings import Settings, SettingsView


def _reader(values: dict[str, Any]) -> SettingsReader:
    settings = Settings()
    settings.update_internal({"system": {"resources": {"bus": values}}})
    return SettingsReader.of(SettingsView(settings, "system.resources.bus"), error=MessagingSettingsError)


@pytest.mark.parametrize(
    ("values", "read", "message"),
    [
        ({"t": 0}, lambda r: r.seconds("t", 1.0), "system.resources.bus.t must be a number of seconds > 0, got 0"),
        ({"n": True}, lambda r: r.whole("n", 1, minimum=1), "system.resources.bus.n must be a whole number >= 1"),
        ({"b": "yes"}, lambda r: r.boolean("b", True), "system.resources.bus.b must be true or false, got 'yes'"),
        ({"m": 3}, lambda r: r.mapping("m"), "system.resources.bus.m must be a mapping, got int"),
        ({"c": "x"}, lambda r: r.choice("c", ("a", "b"), "a"), "system.resources.bus.c must be one of a, b, got 'x'"),
        ({"f": float("nan")}, lambda r: r.number("f", 1.0), "system.resources.bus.f must be a number >= 0"),
    ],
)
def test_a_wrong_value_names_the_full_key(values: dict[str, Any], read: Any, message: str) -> None:
    with pytest.raises(MessagingSettingsError, match=message):
        read(_reader(values))


def test_unknown_keys_are_refused_naming_the_full_key() -> None:
    reader = _reader({"delivery": {"max_concurency": 1}})
    with pytest.raises(MessagingSettingsError) as raised:
        reader.check_known("delivery", reader.mapping("delivery"), ("max_concurrency", "retry"))
    assert str(raised.value) == (
        "setting system.resources.bus.delivery.max_concurency is unknown (known: max_concurrency, retry)"
    )


def test_defaults_without_settings_and_secrets_never_shown() -> None:
    reader = SettingsReader.of(None)
    assert reader.seconds("t", 2.5) == 2.5
    assert reader.mapping("m") == {}
    with pytest.raises(SettingValueError) as raised:
        SettingsReader.of_mapping({"password": 1234}, "amqp").optional_text("password")
    assert "1234" not in str(raised.value)
    assert "setting amqp.password must be a non-empty string" in str(raised.value)


def test_each_block_records_its_problem_and_raise_problems_names_them_all() -> None:
    reader = _reader({"t": 0, "n": -1, "b": True, "token": 7})
    with reader.each():
        reader.seconds("t", 1.0)
    with reader.each():
        assert reader.boolean("b", False) is True  # a right one is read as usual
    with reader.each():
        reader.whole("n", 1)
    with reader.each():
        reader.text("token", "x")
    with pytest.raises(MessagingSettingsError, match=r"^3 wrong settings: ") as raised:
        reader.raise_problems()
    message = str(raised.value)
    for key in ("t must be", "n must be", "token must be"):
        assert f"system.resources.bus.{key}" in message
    assert "7" not in message.replace("system", "")  # a secret key's value is not shown
    assert problems_of(raised.value) == tuple(reader.problems)


def test_raise_problems_without_problems_does_nothing() -> None:
    reader = _reader({"t": 2})
    with reader.each():
        assert reader.seconds("t", 1.0) == 2.0
    reader.raise_problems()


def test_a_typed_read_with_expect_is_recorded_with_the_others() -> None:
    settings = Settings()
    settings.update_internal({"system": {"resources": {"bus": {"on": "yes", "t": 0}}}})
    view = SettingsView(settings, "system.resources.bus")
    reader = SettingsReader.of(view, error=MessagingSettingsError)
    with reader.each():
        view.get_nowait("on", False, expect=bool)  # raises SettingTypeError
    with reader.each():
        reader.seconds("t", 1.0)
    with pytest.raises(MessagingSettingsError, match=r"^2 wrong settings: ") as raised:
        reader.raise_problems()
    assert "setting system.resources.bus.on must be bool" in str(raised.value)
