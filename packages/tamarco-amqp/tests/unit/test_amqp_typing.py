"""A service written against the public API type-checks under ``mypy --strict``: outputs reached
through ``resource.outputs[...]`` have ``publish``/``push``/``request``, and a decorated handler
keeps its signature (the decorators are typed with ``ParamSpec``)."""

from __future__ import annotations

from pathlib import Path

import pytest

SERVICE = """
from tamarco.codecs import JsonCodec
from tamarco.core.microservice import Microservice
from tamarco.resources.io.amqp import AMQPOutput, AMQPPullInput, AMQPResource


class Cows(Microservice):
    name = "cows"
    amqp = AMQPResource(outputs=[AMQPOutput(queue="cows", codec=JsonCodec)])

    @AMQPPullInput(resource=amqp, queue="cows", codec=JsonCodec, max_concurrency=4)
    async def on_cow(self, message: dict[str, int]) -> None:
        await self.amqp.outputs["cows"].publish({"n": 1})
        await self.amqp.outputs["cows"].push({"n": 2}, key="k")


async def call(service: Cows) -> None:
    await service.on_cow({"n": 1})
"""

WRONG = SERVICE.replace('await service.on_cow({"n": 1})', 'await service.on_cow("not a dict")')


def _mypy(tmp_path: Path, source: str) -> tuple[str, int]:
    api = pytest.importorskip("mypy.api")
    module = tmp_path / "cows_service.py"
    module.write_text(source)
    out, err, status = api.run(["--strict", "--no-error-summary", "--cache-dir", str(tmp_path / ".cache"), str(module)])
    return out + err, status


def test_a_service_type_checks_strictly_and_a_wrong_call_does_not(tmp_path: Path) -> None:
    output, status = _mypy(tmp_path, SERVICE)
    assert status == 0, output
    output, status = _mypy(tmp_path, WRONG)
    assert status == 1 and 'Argument 1 to "on_cow" of "Cows"' in output, output


GENERIC = """
from tamarco.resources.io.amqp import AMQPGenericOutput


async def send(output: AMQPGenericOutput) -> None:
    await output.push({"n": 1}, "cows", key="k", headers={"h": "v"})
    await output.publish({"n": 2}, "cows", None, key=None)
"""


def test_the_generic_output_s_keywords_are_typed(tmp_path: Path) -> None:
    output, status = _mypy(tmp_path, GENERIC)
    assert status == 0, output
    output, status = _mypy(tmp_path, GENERIC.replace('key="k"', "key=1"))
    assert status == 1 and '"key"' in output, output
    output, status = _mypy(tmp_path, GENERIC.replace('key="k"', 'priority="k"'))
    assert status == 1 and '"priority"' in output, output
