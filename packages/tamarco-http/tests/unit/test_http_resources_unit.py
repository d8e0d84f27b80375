"""Settings validation, errors, exports and packaging of tamarco-http (no sockets)."""

from __future__ import annotations

from importlib.metadata import entry_points

import pytest
import tamarco.resources.io.http as http_package
from tamarco.core.settings.errors import SettingTypeError
from tamarco.core.settings.settings import Settings, SettingsView
from tamarco.resources.bases import StatusCodes
from tamarco.resources.io.http import _client, report_server, resource
from tamarco.resources.io.http.resource import (
    HTTPClientResource,
    HTTPResourceError,
    HTTPServerResource,
    HTTPSettingsError,
    RoutesFrozenError,
    ServerBindError,
)


def bound(resource_obj, name: str, settings: dict):
    store = Settings("unit")
    store.update_internal({"system": {"resources": {name: settings}}})
    resource_obj.name = name
    resource_obj.settings = SettingsView(store, f"system.resources.{name}")
    return resource_obj


def server_with_route(name: str = "api", **settings) -> HTTPServerResource:
    server = HTTPServerResource()
    server.add_endpoint("/", lambda request: None)
    return bound(server, name, settings)


@pytest.mark.parametrize(
    ("settings", "key", "error"),
    [
        ({"host": "127.0.0.1"}, "system.resources.api.port", HTTPSettingsError),
        ({"port": 70000}, "system.resources.api.port", HTTPSettingsError),
        ({"port": "8080"}, "system.resources.api.port", SettingTypeError),
        ({"port": True}, "system.resources.api.port", SettingTypeError),
        ({"port": 0, "host": 1}, "system.resources.api.host", SettingTypeError),
        ({"port": 0, "keep_alive_timeout": 0}, "system.resources.api.keep_alive_timeout", HTTPSettingsError),
        ({"port": 0, "cache": {"enabled": True, "ttl": -1}}, "system.resources.api.cache.ttl", HTTPSettingsError),
        (
            {"port": 0, "cache": {"enabled": True, "maxsize": 0}},
            "system.resources.api.cache.maxsize",
            HTTPSettingsError,
        ),
        ({"port": 0, "cache": {"enabled": "yes"}}, "system.resources.api.cache.enabled", SettingTypeError),
    ],
)
async def test_bad_server_settings_name_the_key(settings, key, error):
    server = server_with_route(**settings)
    with pytest.raises(error) as raised:
        await server.start()
    assert key in str(raised.value)
    assert server.status_code != StatusCodes.STARTED


@pytest.mark.parametrize(
    ("make", "settings", "key"),
    [
        (
            server_with_route,
            {"port": 0, "keep_alive_timout_seconds": 5},
            "system.resources.api.keep_alive_timout_seconds",
        ),
        (
            server_with_route,
            {"port": 0, "cache": {"enabled": True, "max_size": 9}},
            "system.resources.api.cache.max_size",
        ),
        (
            lambda **s: bound(HTTPClientResource(), "client", s),
            {"timeout_seconds": 3},
            "system.resources.client.timeout_seconds",
        ),
        (
            lambda **s: bound(report_server.ReportServerResource(), "report", s),
            {"port": 0, "bearer": "x" * 16},
            "system.resources.report.bearer",
        ),
    ],
)
async def test_an_unknown_key_is_refused_naming_its_full_key(make, settings, key):
    resource_obj = make(**settings)
    with pytest.raises(HTTPSettingsError, match=rf"^setting {key}: is unknown \(known: ") as raised:
        await resource_obj.start()
    assert resource_obj.status_code != StatusCodes.STARTED
    assert "x" * 16 not in str(raised.value)


async def test_a_subclass_declares_the_keys_it_reads():
    class Configurable(HTTPClientResource):
        settings_keys = (*HTTPClientResource.settings_keys, "tenant")

    client = bound(Configurable(), "client", {"tenant": "acme"})
    await client.start()
    try:
        assert client.status_code == StatusCodes.STARTED
    finally:
        await client.stop()


async def test_server_without_settings_is_a_clear_error():
    with pytest.raises(HTTPResourceError, match="class attribute of a Microservice"):
        await HTTPServerResource().start()
    assert HTTPServerResource().url is None


@pytest.mark.parametrize(
    ("settings", "key"),
    [
        ({"base_url": "not a url"}, "base_url"),
        ({"timeout": 0}, "timeout"),
        ({"limit": -1}, "limit"),
        ({"limit_per_host": -1}, "limit_per_host"),
    ],
)
async def test_bad_client_settings_name_the_key(settings, key):
    client = bound(HTTPClientResource(), "client", settings)
    with pytest.raises(HTTPSettingsError, match=f"system.resources.client.{key}"):
        await client.start()
    with pytest.raises(HTTPResourceError, match="not started"):
        _ = client.session


async def test_a_base_url_with_an_unencoded_password_is_refused_without_echoing_it():
    client = bound(HTTPClientResource(), "client", {"base_url": "https://bot:Qp@Zss/Ww:rd@api.example/"})
    with pytest.raises(HTTPSettingsError, match=r"system.resources.client.base_url.*percent-encode") as raised:
        await client.start()
    assert (
        "Zss" not in str(raised.value) and "Ww:rd" not in str(raised.value) and "api.example" not in str(raised.value)
    )


def test_credentials_are_removed_from_urls():
    strip = _client._without_credentials
    assert strip("https://user:pa55@example.com:8443/api?x=1") == "https://example.com:8443/api?x=1"
    assert strip("http://token@[::1]/") == "http://[::1]/"
    assert strip("http://example.com/") == "http://example.com/"


def test_report_server_route_validation():
    server = report_server.ReportServerResource()

    async def handler(request):  # pragma: no cover - never called
        raise AssertionError

    async def other(request):  # pragma: no cover - never called
        raise AssertionError

    server.add_route("get", "/metrics", handler)
    server.add_route("GET", "/metrics", handler)  # the same handler again: fine
    with pytest.raises(ValueError, match="GET /metrics is already served"):
        server.add_route("GET", "/metrics", other)
    with pytest.raises(ValueError, match="must start with '/'"):
        server.add_route("GET", "status", handler)
    assert server.routes == [("GET", "/metrics")]
    assert server.url is None
    assert (report_server.DEFAULT_HOST, report_server.DEFAULT_PORT) == ("127.0.0.1", 5747)


def test_errors_are_specific_and_catchable_as_builtins():
    bind = ServerBindError("api", "127.0.0.1", 8080, OSError(98, "Address already in use"))
    assert isinstance(bind, OSError) and isinstance(bind, HTTPResourceError)
    assert str(bind) == (
        "resource 'api': 127.0.0.1:8080 is already in use: stop the process listening there, "
        "or set system.resources.api.port to a free port (0 picks one)"
    )
    assert (bind.host, bind.port, bind.errno) == ("127.0.0.1", 8080, 98)
    assert isinstance(HTTPSettingsError("k", "r"), ValueError)
    assert isinstance(RoutesFrozenError("x"), RuntimeError)


def test_public_names_are_exported():
    for module in (http_package, resource):
        for name in module.__all__:
            assert getattr(module, name) is not None, name
    assert set(resource.__all__) <= set(http_package.__all__)
    assert "ReportServerResource" in http_package.__all__


def test_report_server_is_a_default_resource():
    found = {ep.name: ep for ep in entry_points(group="tamarco.default_resources")}
    assert found["tamarco_http_report_server"].load() is report_server.ReportServerResource


async def test_every_wrong_server_setting_is_reported_at_once():
    server = server_with_route(
        port=70000, host=1, keep_alive_timout_seconds=5, cache={"enabled": True, "ttl": -1, "max_size": 9}
    )
    with pytest.raises(HTTPSettingsError, match=r"^setting system\.resources\.api: 5 wrong settings: ") as raised:
        await server.check_settings()
    text = str(raised.value)
    for part in (
        "setting system.resources.api.keep_alive_timout_seconds: is unknown",
        "setting system.resources.api.cache.max_size: is unknown",
        "system.resources.api.host",
        "setting system.resources.api.port: 70000 is not a TCP port",
        "setting system.resources.api.cache.ttl: must be greater than 0, got -1",
    ):
        assert part in text
    with pytest.raises(HTTPSettingsError, match="5 wrong settings"):
        await server.start()
    assert server.status_code != StatusCodes.STARTED


async def test_every_wrong_client_setting_is_reported_at_once():
    client = bound(HTTPClientResource(), "client", {"timeout_seconds": 3, "limit": -1, "base_url": "ftp://x"})
    with pytest.raises(HTTPSettingsError, match="3 wrong settings") as raised:
        await client.check_settings()
    text = str(raised.value)
    assert "system.resources.client.timeout_seconds: is unknown" in text
    assert "system.resources.client.limit: must be 0 (no limit) or more, got -1" in text
    assert "system.resources.client.base_url: 'ftp://x' is not an http(s) URL" in text


async def test_every_wrong_report_server_setting_is_reported_at_once():
    token = "short-secret"
    report = bound(
        report_server.ReportServerResource(),
        "report",
        {"port": 0, "bearer": "x", "bearer_token": token, "shutdown_timeout": -1},
    )
    with pytest.raises(HTTPSettingsError, match="3 wrong settings") as raised:
        await report.check_settings()
    text = str(raised.value)
    assert "setting system.resources.report.bearer: is unknown" in text
    assert "setting system.resources.report.bearer_token: must be a string of at least 16 characters" in text
    assert "setting system.resources.report.shutdown_timeout: must be greater than 0, got -1" in text
    assert token not in text
