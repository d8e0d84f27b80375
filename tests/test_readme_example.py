"""The service shown at the top of README.md runs as written."""

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_readme_example_answers_hello_world(tmp_path):
    code = re.search(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), flags=re.S).group(1)
    (tmp_path / "hello.py").write_text(code)
    port = free_port()
    (tmp_path / "settings.yml").write_text(
        "system:\n"
        "  resources:\n"
        f"    http_server:\n      host: 127.0.0.1\n      port: {port}\n"
        "    tamarco_http_report_server:\n      port: 0\n"
    )
    process = subprocess.Popen(
        [sys.executable, "hello.py"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1", "TAMARCO_YML_FILE": "settings.yml"},
    )
    try:
        body = None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and process.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as response:
                    body = response.read().decode()
                    break
            except OSError:
                time.sleep(0.05)  # polling until the server listens
        assert body == "Hello world!"
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 0, output
