"""Small internals of tamarco-http: touchup preparation and the access-log message."""

from __future__ import annotations

import logging

from sanic import Sanic
from tamarco.resources.io.http import _access_log, _touchup


def test_touchup_falls_back_to_off_when_sanic_was_touched_up_elsewhere(monkeypatch):
    app = Sanic("tamarco_unit_touchup_fallback", configure_logging=False)
    monkeypatch.setattr(_touchup, "_pristine_known", False)
    _touchup.prepare_first_startup(app)
    assert app.config.TOUCHUP is False


def test_touchup_shares_http_signals_between_apps(monkeypatch):
    monkeypatch.setattr(_touchup, "_live", {})
    monkeypatch.setattr(_touchup, "_signals", {})
    owner = type("Server", (), {})()  # what adopts the app (an HTTPServerResource in real use)
    listener = Sanic("tamarco_unit_touchup_listener", configure_logging=False)
    _touchup.adopt(listener, owner)

    @listener.signal("http.lifecycle.request")
    async def on_request(request):  # pragma: no cover - never dispatched here
        pass

    _touchup.prepare_first_startup(listener)
    other = Sanic("tamarco_unit_touchup_other", configure_logging=False)
    _touchup.prepare_first_startup(other)
    assert "http.lifecycle.request" in _touchup._http_signals(other)
    assert other.config.TOUCHUP is True


def test_access_log_message_masks_secret_query_values():
    record = logging.LogRecord("sanic.access", logging.INFO, __file__, 1, "", (), None)
    record.__dict__.update(
        host="127.0.0.1:5000", request="GET http://h/a?password=x&q=1&Token=y", status=200, byte=12, duration=" 1.0ms"
    )
    assert _access_log.AccessLogMessage().filter(record) is True
    assert record.getMessage() == "127.0.0.1:5000 GET /a?password=********&q=1&Token=******** 200 12 1.0ms"
    assert record.__dict__["request"] == "GET /a?password=********&q=1&Token=********"
    untouched = logging.LogRecord("sanic.access", logging.INFO, __file__, 1, "already %s", ("formatted",), None)
    _access_log.AccessLogMessage().filter(untouched)
    assert untouched.getMessage() == "already formatted"
