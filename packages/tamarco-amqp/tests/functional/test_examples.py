"""The 0.1 plugin's examples (examples/amqp_*.py, unchanged: their ``tamarco_amqp`` imports
included) run against the harness RabbitMQ: messages are consumed or answered, the deprecated
imports name the new path, and SIGTERM stops them cleanly."""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.functional

EXAMPLES = Path(__file__).resolve().parents[4] / "examples"


def settings(amqp_settings, unique_name):
    # The examples' own settings dicts are internal defaults: this file overrides them with the
    # harness broker's address and credentials, and a prefix that isolates the run's queues.
    amqp = amqp_settings(queues_prefix=f"{unique_name}.")
    return {
        "system": {
            "logging": {"profile": "DEVELOP"},
            "resources": {"amqp": amqp, "tamarco_http_report_server": {"port": 0}},
        }
    }


@pytest.mark.parametrize(
    ("example", "consumed"),
    [
        ("amqp_publish_subscribe.py", r"Consumed message from cows queue: \{'cow': 'MOOOO'\}"),
        ("amqp_publish_subscribe_async_iter.py", r"Consumed message from cows queue: \{'cow': 'MOOOO'\}"),
        ("amqp_push_pull.py", r"Consumed message from cows queue: \{'cow': 'MOOOO'\}"),
        ("amqp_request_response.py", r"Sent message to cows \{'cow': 'MOOOO'\} with response \{'cat': 'MEOW'\}"),
    ],
)
def test_example_consumes_and_stops_on_sigterm(example, consumed, amqp_settings, unique_name, service_process):
    service = service_process(EXAMPLES / example, settings(amqp_settings, unique_name))
    service.wait_for(consumed, timeout=40, count=2)
    assert "DeprecationWarning: tamarco_amqp.input is deprecated: import from tamarco.resources.io.amqp.input" in (
        service.output
    )
    code = service.terminate()
    assert code == 0, service.output
    assert "Traceback" not in service.output, service.output
