"""`tamarco start_project` generates a project whose own tests pass and whose app runs."""

import os
import signal
import subprocess
import sys
import time

from tamarco.cli.main import main


def test_start_project_generates_a_working_service(tmp_path):
    code = main(
        [
            "start_project",
            "--no-input",
            "--output-dir",
            str(tmp_path),
            "--set",
            "project_name=billing-api",
            "--set",
            "full_name=Ada",
        ]
    )
    assert code == 0
    project = tmp_path / "billing-api"
    slug = project / "billing_api"
    for relative in [
        "app.py",
        "settings.yml",
        "pyproject.toml",
        "Dockerfile",
        "README.md",
        "tests/test_microservice.py",
    ]:
        assert (project / relative).is_file(), relative
    assert (slug / "microservice.py").read_text().count('name = "billing_api"') == 1
    assert (slug / "logic").is_dir() and (slug / "resources").is_dir()

    tests = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:tamarco_harness"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert tests.returncode == 0, tests.stdout + tests.stderr

    settings = project / "settings.yml"
    settings.write_text(settings.read_text().replace("port: 5747", "port: 0"))
    app = subprocess.Popen(
        [sys.executable, "app.py"],
        cwd=project,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(project)},
    )
    try:
        deadline = time.monotonic() + 30
        lines = []
        while time.monotonic() < deadline:
            line = app.stdout.readline()
            if not line:
                break
            lines.append(line)
            if "heartbeat" in line:
                break
        assert any("heartbeat" in line for line in lines), "".join(lines)
        app.send_signal(signal.SIGTERM)
        rest, _ = app.communicate(timeout=30)
    finally:
        app.kill()
    assert app.returncode == 0, "".join(lines) + rest


def test_start_project_rejects_bad_set_value(capsys):
    assert main(["start_project", "--no-input", "--set", "no_equals_sign"]) == 1
    assert "KEY=VALUE" in capsys.readouterr().err
