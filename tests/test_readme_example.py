"""The service shown at the top of README.md runs as written, with the settings it shows.

tests/test_distributions.py runs it again after the README's install line, from the wheels.
"""

import re
import socket
import sys
import time
import urllib.request
from pathlib import Path

from tamarco.harness import ServiceProcess

ROOT = Path(__file__).resolve().parents[1]


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_readme_example_answers_hello_world(tmp_path):
    code = re.search(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), flags=re.S).group(1)
    (tmp_path / "hello.py").write_text(code)
    port = free_port()
    # The settings the README shows, on free ports.
    settings = re.search(r"```yaml\n(.*?)```", (ROOT / "README.md").read_text(), flags=re.S).group(1)
    assert "port: 8080" in settings and "port: 5747" in settings, settings
    (tmp_path / "settings.yml").write_text(
        settings.replace("port: 8080", f"port: {port}").replace("port: 5747", "port: 0")
    )
    with ServiceProcess(
        [sys.executable, "hello.py"], cwd=tmp_path, env={"TAMARCO_YML_FILE": "settings.yml"}
    ) as process:
        body = None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and process.running():
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as response:
                    body = response.read().decode()
                    break
            except OSError:
                time.sleep(0.05)  # polling until the server listens
        assert body == "Hello world!", process.output
        assert process.terminate() == 0, process.output
