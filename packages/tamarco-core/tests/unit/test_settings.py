import json

import pytest
from tamarco.core.settings import (
    SettingNotFound,
    Settings,
    SettingsFileError,
    SettingsNotLoadedYet,
    SettingsView,
    SettingTypeError,
)
from tamarco.core.settings.backends.file import FileSettingsBackend


async def loaded(internal=None, name="dog", backend=None):
    settings = Settings(microservice_name=name, backend=backend, environ={})
    if internal:
        settings.update_internal(internal)
    await settings.start()
    return settings


async def test_get_default_and_not_found():
    settings = await loaded({"system": {"a": {"b": 1}}})
    assert await settings.get("system.a.b") == 1
    assert await settings.get("system.a") == {"b": 1}
    assert await settings.get("system.missing", "dflt") == "dflt"
    assert await settings.get("system.missing", None) is None
    with pytest.raises(SettingNotFound, match=r"system\.missing"):
        await settings.get("system.missing")


async def test_update_internal_deep_merges_new_value_wins_at_every_depth():
    settings = await loaded({"system": {"logging": {"profile": "PRODUCTION", "stdout": True}, "x": 1}})
    settings.update_internal({"system": {"logging": {"profile": "DEVELOP"}, "y": 2}})
    assert await settings.get("system.logging") == {"profile": "DEVELOP", "stdout": True}
    assert await settings.get("system.x") == 1
    assert await settings.get("system.y") == 2


async def test_file_overrides_internal_and_microservice_overrides_general(tmp_path):
    path = tmp_path / "settings.yml"
    path.write_text(
        "system:\n"
        "  logging:\n    profile: PRODUCTION\n"
        "  resources:\n    amqp:\n      port: 5672\n"
        "  microservices:\n    dog:\n      logging:\n        profile: DEVELOP\n"
    )
    internal = {"system": {"logging": {"profile": "X", "stdout": False}, "resources": {"amqp": {"host": "h"}}}}
    dog = await loaded(internal, name="dog", backend=FileSettingsBackend(path))
    cat = await loaded(internal, name="cat", backend=FileSettingsBackend(path))
    assert await dog.get("system.logging.profile") == "DEVELOP"
    assert await cat.get("system.logging.profile") == "PRODUCTION"
    assert await cat.get("system.logging.stdout") is False
    assert await cat.get("system.resources.amqp") == {"host": "h", "port": 5672}


async def test_microservice_override_in_internal_beats_general_external(tmp_path):
    path = tmp_path / "s.json"
    path.write_text(json.dumps({"system": {"logging": {"profile": "PRODUCTION"}}}))
    internal = {"system": {"microservices": {"dog": {"logging": {"profile": "DEVELOP"}}}}}
    settings = await loaded(internal, backend=FileSettingsBackend(path))
    assert await settings.get("system.logging.profile") == "DEVELOP"


async def test_environment_selects_file_backend(tmp_path):
    path = tmp_path / "s.yml"
    path.write_text("system:\n  deploy_name: from_file\n")
    settings = Settings("svc", environ={"TAMARCO_YML_FILE": str(path)})
    await settings.start()
    assert await settings.get("system.deploy_name") == "from_file"


async def test_malformed_yaml_names_file_and_line(tmp_path):
    path = tmp_path / "bad.yml"
    path.write_text("system:\n  a: 1\n  b: [1, 2\n  c: 3\n")
    settings = Settings("svc", environ={"TAMARCO_YML_FILE": str(path)})
    with pytest.raises(SettingsFileError) as info:
        await settings.start()
    assert str(path) in str(info.value)
    assert info.value.line is not None and "line" in str(info.value)


async def test_malformed_json_names_file_and_line(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text('{\n  "system": {\n    "a": 1,,\n  }\n}')
    with pytest.raises(SettingsFileError, match=r"bad.json, line 3"):
        await Settings("svc", backend=FileSettingsBackend(path)).start()


async def test_missing_file_names_path(tmp_path):
    path = tmp_path / "nope.yml"
    with pytest.raises(SettingsFileError, match=r"nope\.yml"):
        await Settings("svc", environ={"TAMARCO_YML_FILE": str(path)}).start()


async def test_top_level_must_be_mapping(tmp_path):
    path = tmp_path / "list.yml"
    path.write_text("- a\n- b\n")
    with pytest.raises(SettingsFileError, match="mapping"):
        await Settings("svc", backend=FileSettingsBackend(path)).start()


async def test_set_delete_and_watch_semantics():
    settings = await loaded({"system": {"resources": {"http": {"port": 80}}}})
    calls = []

    async def async_cb(key, value):
        calls.append(("async", key, value))

    await settings.watch("system.resources.http", async_cb)
    await settings.watch("system.resources.http.port", lambda k, v: calls.append(("sync", k, v)))
    await settings.watch("system.resources.ht", lambda k, v: calls.append(("prefix-string", k, v)))

    await settings.set("system.resources.http.port", 81)
    assert ("async", "system.resources.http.port", 81) in calls
    assert ("sync", "system.resources.http.port", 81) in calls
    calls.clear()
    await settings.set("system.resources.http_other.port", 1)
    assert calls == []  # shares only a string prefix
    await settings.set("system.resources.http.host", "h")
    assert calls == [("async", "system.resources.http.host", "h")]
    calls.clear()
    await settings.set("system.resources.http.port", 81)
    assert calls == []  # unchanged value: no event
    await settings.delete("system.resources.http")
    assert ("sync", "system.resources.http.port", None) in calls
    assert ("async", "system.resources.http.host", None) in calls
    with pytest.raises(SettingNotFound):
        await settings.get("system.resources.http.port")


async def test_watch_fires_for_effective_changes_through_microservice_overrides():
    settings = await loaded({"system": {"logging": {"profile": "PRODUCTION"}}}, name="dog")
    seen = []
    await settings.watch("system.logging.profile", lambda k, v: seen.append((k, v)))
    await settings.set("system.microservices.dog.logging.profile", "DEVELOP")
    assert seen == [("system.logging.profile", "DEVELOP")]
    await settings.set("system.microservices.cat.logging.profile", "DEVELOP")
    assert len(seen) == 1  # another service's override
    await settings.delete("system.microservices.dog")
    assert seen[-1] == ("system.logging.profile", "PRODUCTION")


async def test_failing_watcher_does_not_stop_others(caplog):
    settings = await loaded()
    seen = []

    def broken(key, value):
        raise RuntimeError("boom")

    await settings.watch("system.a", broken)
    await settings.watch("system.a", lambda k, v: seen.append(v))
    await settings.set("system.a", 1)
    assert seen == [1]


async def test_settings_view_scopes_and_types():
    settings = await loaded({"system": {"resources": {"http_server": {"port": "80", "host": "h", "debug": True}}}})
    view = SettingsView(settings, "system.resources.http_server")
    assert await view.get("host") == "h"
    assert await view.get() == {"port": "80", "host": "h", "debug": True}
    assert await view.get("system.resources.http_server.host", raw=True) == "h"
    with pytest.raises(SettingTypeError) as info:
        await view.get("port", expect=int)
    assert "system.resources.http_server.port" in str(info.value)
    with pytest.raises(SettingTypeError):
        await view.get("debug", expect=int)  # a bool is not a port
    assert await view.get("debug", expect=bool) is True
    await view.set("port", 8080)
    assert await settings.get("system.resources.http_server.port", expect=int) == 8080
    seen = []
    await view.watch("port", lambda k, v: seen.append((k, v)))
    await view.set("port", 8081)
    assert seen == [("system.resources.http_server.port", 8081)]


async def test_promised_setting_resolves_on_load():
    settings = Settings("svc", environ={})
    settings.update_internal({"system": {"deploy_name": "prod", "n": 3}})
    deploy = settings.promise("system.deploy_name")
    number = settings.promise("system.n")
    missing = settings.promise("system.missing", default="d")
    assert not deploy.resolved
    with pytest.raises(SettingsNotLoadedYet, match=r"system\.deploy_name"):
        deploy.upper()
    await settings.start()
    assert deploy == "prod"
    assert deploy.upper() == "PROD"
    assert number + 1 == 4
    assert missing == "d"


async def test_two_settings_objects_are_independent():
    first = await loaded({"system": {"a": 1}}, name="one")
    second = await loaded({"system": {"a": 2}}, name="two")
    await first.set("system.a", 10)
    assert await second.get("system.a") == 2


@pytest.mark.parametrize("key", ["", "a..b", ".a", "a."])
async def test_invalid_keys(key):
    settings = await loaded()
    with pytest.raises(ValueError, match="invalid settings key"):
        await settings.get(key)
