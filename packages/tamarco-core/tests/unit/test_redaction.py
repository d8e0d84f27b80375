"""tamarco.core.redaction: every case of issue 14 through the one function logs, /status and
lifecycle errors use."""

from __future__ import annotations

import pytest
from tamarco.core.redaction import MASK, Redactor, is_secret_key, redact_data, redact_text, redact_url


@pytest.mark.parametrize(
    "key",
    [
        "pass",
        "PASS",
        "db_pass",
        "password",
        "Password",
        "passwd",
        "passphrase",
        "pwd",
        "secret",
        "client_secret",
        "token",
        "api_token",
        "api_key",
        "apiKey",
        "api-key",
        "credentials",
        "authorization",
        "private_key",
        "cookie",
    ],
)
def test_secret_looking_keys(key: str) -> None:
    assert is_secret_key(key)


@pytest.mark.parametrize("key", ["passenger", "bypass", "compass_heading", "user", "host", "url", "port", "name"])
def test_ordinary_keys(key: str) -> None:
    assert not is_secret_key(key)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("amqp://bob:pa/ss-SECRET@host/vhost", f"amqp://bob:{MASK}@host/vhost"),
        ("connect to amqp://bob:p@ss@10.0.0.1:5672/v failed", f"connect to amqp://bob:{MASK}@10.0.0.1:5672/v failed"),
        ("redis://:s3cr:et@localhost:6379/0", f"redis://:{MASK}@localhost:6379/0"),
        ("'amqp://guest:guest@127.0.0.1/' refused", f"'amqp://guest:{MASK}@127.0.0.1/' refused"),
        ("http://host:8080/path", "http://host:8080/path"),
        ("http://user@host/path", "http://user@host/path"),
        ("{'user': 'bob', 'pass': 'hunter22'}", f"{{'user': 'bob', 'pass': '{MASK}'}}"),
        ('{"password": "hunter22", "port": 5672}', f'{{"password": "{MASK}", "port": 5672}}'),
        ("token=abc123&page=2", f"token={MASK}&page=2"),
        ("api_key: k-123 accepted", f"api_key: {MASK} accepted"),
        ("bypass: yes", "bypass: yes"),
        ("nothing secret here: 42", "nothing secret here: 42"),
    ],
)
def test_texts(text: str, expected: str) -> None:
    assert redact_text(text) == expected


def test_known_setting_values_are_masked_anywhere() -> None:
    settings = {
        "system": {
            "resources": {
                "amqp": {"host": "127.0.0.1", "pass": "pa/ss-SECRET", "user": "bob"},
                "db": {"credentials": {"user": "svc", "key": "k3y-value"}},
                "short": {"password": "abc"},
            }
        }
    }
    redactor = Redactor.from_settings(settings)
    assert redactor.text("login bob/pa/ss-SECRET refused") == f"login bob/{MASK} refused"
    assert redactor.text("db key k3y-value and svc") == f"db key {MASK} and svc"
    assert redactor.text("abc stays: too short to search for") == "abc stays: too short to search for"


def test_a_redactor_follows_its_source() -> None:
    tree = {"system": {"password": "first-secret"}}
    redactor = Redactor(source=lambda: tree)
    assert redactor.text("first-secret") == MASK
    tree = {"system": {"password": "second-secret"}}
    assert redactor.text("first-secret second-secret") == f"first-secret {MASK}"


def test_data_masks_keys_urls_and_values_at_any_depth() -> None:
    data = {
        "pass": "hunter22",
        "password": None,
        "target": "amqp://bob:pa/ss-SECRET@host/vhost",
        "nested": [{"client_secret": "x"}, "plain", ("token=t0k3n",)],
        "count": 3,
    }
    assert redact_data(data) == {
        "pass": MASK,
        "password": None,
        "target": f"amqp://bob:{MASK}@host/vhost",
        "nested": [{"client_secret": MASK}, "plain", [f"token={MASK}"]],
        "count": 3,
    }


def test_redact_url_keeps_everything_but_the_password() -> None:
    assert redact_url("http://user:pw@host:1/p") == f"http://user:{MASK}@host:1/p"
    assert redact_url("http://host/p") == "http://host/p"
