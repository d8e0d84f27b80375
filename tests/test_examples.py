"""Every example in examples/ runs as written (the demo and HTTP examples have their own tests)."""

import json
import re
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml
from tamarco.harness import ServiceProcess

ROOT = Path(__file__).resolve().parents[1]
SETTINGS = {"system": {"logging": {"profile": "DEVELOP"}, "resources": {"tamarco_http_report_server": {"port": 0}}}}


@pytest.fixture
def example():
    """Run ``examples/<name>/microservice.py`` (DEVELOP logs, an ephemeral report port)."""
    started = []

    def run(name):
        started.append(ServiceProcess(ROOT / "examples" / name / "microservice.py", settings=SETTINGS).start())
        return started[-1]

    yield run
    for item in started:
        item.__exit__(None, None, None)


def test_lifecycle_example_prints_around_every_hook(example):
    service = example("lifecycle")
    service.wait_for("After post_start of the service")
    code, output = service.interrupt(), service.output
    assert code == 0, output
    printed = [line.strip() for line in output.splitlines() if "of the service" in line]
    hooks = ["pre_start", "start", "post_start", "stop", "post_stop"]
    assert printed == [f"{when} {hook} of the service" for hook in hooks for when in ("Before", "After")]


def test_logging_example_logs_extra_logger_and_traceback(example):
    service = example("logging")
    service.wait_for("Unexpected exception")
    service.wait_for("KeyError: 'missing'")
    code, output = service.interrupt(), service.output
    assert code == 0, output
    assert re.search(r"INFO my_extra_logger: Initializing periodic log", output)
    assert "my_microservice_name: logger line" in output


def test_metrics_example_exposes_the_meters(example):
    service = example("metrics")
    url = service.wait_for(r"Prometheus endpoint (http://\S+/metrics)").group(1)
    service.wait_for("cats so far: 1")
    with urllib.request.urlopen(url, timeout=5) as response:
        text = response.read().decode()
    code, output = service.interrupt(), service.output
    assert code == 0, output
    for name in ("metrics_example_cats", "metrics_example_meows", "metrics_example_jumps"):
        assert re.search(rf"^{name}(_total)?(\{{.*\}})? [1-9]", text, flags=re.M), (name, text)
    assert re.search(r'^metrics_example_http_requests(_total)?\{.*status_code="200".*\} [1-9]', text, flags=re.M)
    assert "metrics_example_websocket_connections" in text
    assert "metrics_example_http_requests_processing_time" in text


def test_two_http_servers_start_without_routes_and_answer_404():
    """§3.7: each server reads its own settings by attribute name; no routes is a warning."""
    settings = {
        "system": {
            "logging": {"profile": "DEVELOP"},
            "resources": {
                "tamarco_http_report_server": {"port": 0},
                "recommendation_http_api": {"port": 0},
                "billing_http_api": {"port": 0},
            },
        }
    }
    with ServiceProcess(ROOT / "examples" / "two_http_servers" / "microservice.py", settings=settings) as service:
        urls = {
            name: service.wait_for(rf"HTTP server {name} listening on (http://\S+)").group(1)
            for name in ("recommendation_http_api", "billing_http_api")
        }
        assert len(set(urls.values())) == 2
        for url in urls.values():
            with pytest.raises(urllib.error.HTTPError) as answer:
                urllib.request.urlopen(url + "/", timeout=5)
            assert answer.value.code == 404
        code, output = service.terminate(), service.output
    assert code == 0, output
    assert output.count("has no routes") == 2, output


def test_restart_policies_of_the_reference_restart_the_failed_resource():
    """§4.2.3's YAML as written: ``kafka`` is restarted after it fails, ``redis`` (absent) is a warning."""
    example = ROOT / "examples" / "restart_policies"
    settings = yaml.safe_load((example / "settings.yml").read_text())
    settings["system"]["logging"] = {"profile": "DEVELOP"}
    settings["system"]["resources"]["tamarco_http_report_server"] = {"port": 0}
    with ServiceProcess(example / "microservice.py", settings=settings) as service:
        service.wait_for(r"WARNING .*restart_microservice_on_failure.*'redis'")
        service.wait_for("resource kafka lost its connection")
        service.wait_for(r"resource kafka restarted: STARTED again")
        service.wait_for(r"resource kafka started \(start number 2\)")
        report = service.wait_for(r"report server listening on (http://\S+)").group(1)
        with urllib.request.urlopen(f"{report}/status", timeout=5) as response:
            status = json.load(response)
        code, output = service.terminate(), service.output
    assert status["resources"]["kafka"] == {"status": 2, "status_name": "STARTED", "restart_attempts": 1}, status
    assert code == 0, output


@pytest.mark.functional
def test_settings_from_etcd_per_service_override_and_watch(etcd_service, etcd_prefix):
    """§3.5.1/§3.6: ETCD_CHECK_KEY waited for, the ``dog`` override read, a change watched live."""
    example = ROOT / "examples" / "settings_etcd"
    tree = yaml.safe_load((example / "settings.yml").read_text())
    tree["system"]["resources"] = {"tamarco_http_report_server": {"port": 0}}

    def put_tree(path, value):
        if isinstance(value, dict):
            for key, child in value.items():
                put_tree(f"{path}{key}/" if isinstance(child, dict) else f"{path}{key}", child)
        else:
            etcd_service.put(path, json.dumps(value))

    put_tree(etcd_prefix, {"system": tree["system"]})
    env = {**etcd_service.env(), "TAMARCO_ETCD_PREFIX": etcd_prefix, "ETCD_CHECK_KEY": "etcd_ready"}
    with ServiceProcess(example / "microservice.py", env=env) as service:
        service.wait_for(r"waiting .*etcd_ready")
        etcd_service.put(f"{etcd_prefix}etcd_ready", json.dumps(tree["etcd_ready"]))
        service.wait_for(r"logging profile DEVELOP, greeting 'hello'")
        etcd_service.put(f"{etcd_prefix}system/greeting", json.dumps("good morning"))
        service.wait_for(r"setting system.greeting changed to 'good morning'")
        code, output = service.terminate(), service.output
    assert code == 0, output
