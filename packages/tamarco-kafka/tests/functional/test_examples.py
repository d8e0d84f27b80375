"""The 0.1 plugin's examples (examples/kafka_*.py, unchanged) run against the harness broker:
messages are produced and consumed, and SIGTERM stops them cleanly."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.functional

EXAMPLES = Path(__file__).resolve().parents[4] / "examples"


@pytest.mark.parametrize("example", ["kafka_decorator_input.py", "kafka_stream_input.py"])
def test_example_produces_consumes_and_stops_on_sigterm(
    example: str, service_process: Any, kafka_settings: Any
) -> None:
    # The example's update_internal names 127.0.0.1; the settings file (external) overrides it.
    service = service_process(EXAMPLES / example, kafka_settings())
    service.wait_for(
        r"Consumed message from metrics topic: \{'metrics': \{'(cow|cat)': '(MOOOO|MEOW)'\}\}", 60, count=2
    )
    code = service.terminate()
    assert code == 0, service.output
    assert "Traceback" not in service.output, service.output
