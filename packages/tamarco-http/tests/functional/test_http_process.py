"""Real service processes: the reference example, and SIGTERM with a request in flight."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from pathlib import Path

import aiohttp
import pytest

pytestmark = pytest.mark.functional

REPO = Path(__file__).resolve().parents[4]
EXAMPLE = REPO / "examples" / "http_resource" / "microservice.py"
SLOW_SERVICE = Path(__file__).parent / "services" / "slow_http_service.py"


async def spawn(script: Path, **env: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        str(script),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **env},
    )


async def read_until(process: asyncio.subprocess.Process, marker: str, seen: list[str], timeout: float = 20) -> None:
    """Collect output lines into ``seen`` until one contains ``marker``."""

    async def scan() -> None:
        assert process.stdout is not None
        while True:
            line = (await process.stdout.readline()).decode()
            if not line:
                raise AssertionError(f"process ended before {marker!r}:\n{''.join(seen)}")
            seen.append(line)
            if marker in line:
                return

    try:
        await asyncio.wait_for(scan(), timeout)
    except TimeoutError:
        raise AssertionError(f"{marker!r} not printed within {timeout} s:\n{''.join(seen)}") from None


async def finish(process: asyncio.subprocess.Process, seen: list[str], timeout: float = 20) -> int:
    try:
        rest, _ = await asyncio.wait_for(process.communicate(), timeout)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    seen.append(rest.decode())
    return process.returncode


async def test_reference_example_answers_hello_world(tmp_path, free_port, http_session):
    settings = tmp_path / "settings.yml"
    settings.write_text(
        "system:\n  resources:\n"
        f"    http_server:\n      port: {free_port}\n"
        "    tamarco_http_report_server:\n      port: 0\n"
    )
    process = await spawn(EXAMPLE, TAMARCO_YML_FILE=str(settings))
    seen: list[str] = []
    try:
        await read_until(process, f"listening on http://127.0.0.1:{free_port}", seen)
        async with http_session.get(f"http://127.0.0.1:{free_port}/") as response:
            assert response.status == 200
            assert await response.text() == "Hello world!"
        process.send_signal(signal.SIGTERM)
    finally:
        code = await finish(process, seen)
    output = "".join(seen)
    assert code == 0, output
    assert "Requested /" in output


async def test_request_in_flight_during_sigterm_gets_its_response(free_port, http_session):
    process = await spawn(SLOW_SERVICE, HTTP_PORT=str(free_port))
    url = f"http://127.0.0.1:{free_port}/slow"
    seen: list[str] = []
    try:
        await read_until(process, f"listening on http://127.0.0.1:{free_port}", seen)
        request = asyncio.create_task(http_session.get(url + "?seconds=1"))
        await read_until(process, "IN_FLIGHT", seen)
        process.send_signal(signal.SIGTERM)
        await read_until(process, "received SIGTERM", seen)
        response = await asyncio.wait_for(request, 10)
        assert response.status == 200
        assert await response.text() == "slow response"
    finally:
        code = await finish(process, seen)
    assert code == 0, "".join(seen)
    with pytest.raises(aiohttp.ClientConnectionError):
        await http_session.get(url + "?seconds=0")


async def test_a_taken_port_is_one_line_naming_the_key_and_no_traceback():
    """Issue 24: the port comes from the environment (TAMARCO__...), and it is taken."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        process = await spawn(EXAMPLE, TAMARCO__SYSTEM__RESOURCES__HTTP_SERVER__PORT=str(port), TAMARCO_YML_FILE="")
        seen: list[str] = []
        code = await finish(process, seen)
    output = "".join(seen)
    assert code == 1, output
    assert "Traceback" not in output, output
    lines = [line for line in output.splitlines() if f"127.0.0.1:{port}" in line]
    assert len(lines) == 1, output
    assert "system.resources.http_server.port" in lines[0] and "already in use" in lines[0], lines[0]
    assert "free port" in lines[0], lines[0]
