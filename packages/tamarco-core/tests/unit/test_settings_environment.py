"""Settings from the environment (TAMARCO__<KEY>), their precedence, and empty values refused."""

from __future__ import annotations

import pytest
from tamarco.core.settings import Settings, SettingsFileError
from tamarco.core.settings.backends.file import FileSettingsBackend
from tamarco.core.settings.environment import EnvironmentSettingError, settings_from_environment


def test_a_variable_names_a_key_with_double_underscores_and_its_value_is_yaml():
    tree = settings_from_environment(
        {
            "TAMARCO__SYSTEM__RESOURCES__HTTP__PORT": "8081",
            "TAMARCO__SYSTEM__RESOURCES__AMQP__DRAIN_TIMEOUT_SECONDS": "2.5",
            "TAMARCO__SYSTEM__LOGGING__PROFILE": "PRODUCTION",
            "TAMARCO__SYSTEM__FLAGS": "[a, b]",
            "TAMARCO__SYSTEM__QUOTED": '"8081"',
            "TAMARCO_YML_FILE": "not a setting",
            "HOME": "/root",
        }
    )
    assert tree == {
        "system": {
            "resources": {"http": {"port": 8081}, "amqp": {"drain_timeout_seconds": 2.5}},
            "logging": {"profile": "PRODUCTION"},
            "flags": ["a", "b"],
            "quoted": "8081",
        }
    }


@pytest.mark.parametrize("variable", ["TAMARCO__SYSTEM____PORT", "TAMARCO__", "TAMARCO__SYSTEM__"])
def test_a_variable_naming_no_key_is_refused(variable):
    with pytest.raises(EnvironmentSettingError, match=variable):
        settings_from_environment({variable: "1"})


def test_an_empty_variable_is_refused_naming_it():
    with pytest.raises(EnvironmentSettingError, match="TAMARCO__SYSTEM__RESOURCES__HTTP__PORT is empty"):
        settings_from_environment({"TAMARCO__SYSTEM__RESOURCES__HTTP__PORT": ""})


async def test_precedence_internal_then_file_then_environment_and_per_service_keys_win(tmp_path):
    path = tmp_path / "settings.yml"
    path.write_text(
        "system:\n"
        "  resources:\n"
        "    http: {port: 8001, host: file-host}\n"
        "    amqp: {host: file-amqp}\n"
        "  microservices:\n"
        "    dog:\n"
        "      resources: {amqp: {host: dog-amqp}}\n"
    )
    environ = {
        "TAMARCO__SYSTEM__RESOURCES__HTTP__PORT": "9001",
        "TAMARCO__SYSTEM__RESOURCES__AMQP__HOST": "env-amqp",
        "TAMARCO__SYSTEM__RESOURCES__REDIS__HOST": "env-redis",
    }
    settings = Settings("dog", backend=FileSettingsBackend(path), environ=environ)
    settings.update_internal({"system": {"resources": {"http": {"port": 1, "host": "internal", "timeout": 5}}}})
    await settings.start()
    assert await settings.get("system.resources.http.port") == 9001  # environment over file
    assert await settings.get("system.resources.http.host") == "file-host"  # file over internal
    assert await settings.get("system.resources.http.timeout") == 5  # internal default kept
    assert await settings.get("system.resources.redis.host") == "env-redis"
    # The per-service key (system.microservices.dog...) wins over a general key from any layer.
    assert await settings.get("system.resources.amqp.host") == "dog-amqp"
    environ["TAMARCO__SYSTEM__MICROSERVICES__DOG__RESOURCES__AMQP__HOST"] = "env-dog-amqp"
    settings = Settings("dog", backend=FileSettingsBackend(path), environ=environ)
    await settings.start()
    assert await settings.get("system.resources.amqp.host") == "env-dog-amqp"


async def test_a_bad_variable_fails_the_start():
    settings = Settings("dog", environ={"TAMARCO__SYSTEM__RESOURCES__HTTP__PORT": " "})
    with pytest.raises(EnvironmentSettingError, match="TAMARCO__SYSTEM__RESOURCES__HTTP__PORT"):
        await settings.start()


async def test_an_empty_yaml_value_is_an_error_naming_the_key(tmp_path):
    path = tmp_path / "settings.yml"
    path.write_text("system:\n  resources:\n    http:\n      host: 0.0.0.0\n      port:\n")
    with pytest.raises(SettingsFileError) as raised:
        await FileSettingsBackend(path).load()
    message = str(raised.value)
    assert "system.resources.http.port is empty" in message and "line 5" in message, message


async def test_an_explicit_null_stays_allowed(tmp_path):
    path = tmp_path / "settings.yml"
    path.write_text("system:\n  resources:\n    amqp:\n      prefetch: null\n      other: ~\n")
    loaded = await FileSettingsBackend(path).load()
    assert loaded == {"system": {"resources": {"amqp": {"prefetch": None, "other": None}}}}
