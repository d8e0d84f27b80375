"""The service's OpenAPI document, generated from the code as ``make contract`` does (in its own
process: the service adds its routes when it is created, once per process)."""

import json
import subprocess
import sys
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[2]


def test_the_typed_handler_is_in_the_openapi_document():
    printed = subprocess.run(
        [sys.executable, "-m", "tamarco.cli.main", "openapi", "{{ cookiecutter.project_slug }}.microservice:MyMicroservice"],
        capture_output=True,
        text=True,
        cwd=PROJECT,
        timeout=120,
    )
    assert printed.returncode == 0, printed.stderr
    document = json.loads(printed.stdout)
    post = document["paths"]["/greetings"]["post"]
    assert post["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/GreetingRequest"
    }
    assert post["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Greeting"
    }
    assert document["paths"]["/greetings/{name}"]["get"]["parameters"][0]["name"] == "name"
