"""Checking documents against the official AsyncAPI 3.0.0 and OpenAPI 3.1 JSON Schemas."""

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import jsonschema
import pytest

SCHEMAS = Path(__file__).parent / "schemas"


def asyncapi_validator() -> jsonschema.Draft7Validator:
    return jsonschema.Draft7Validator(json.loads((SCHEMAS / "asyncapi-3.0.0.json").read_text()))


def openapi_validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(json.loads((SCHEMAS / "openapi-3.1.json").read_text()))


def assert_valid(validator: Any, document: dict[str, Any]) -> None:
    errors = [f"{list(error.absolute_path)}: {error.message[:300]}" for error in validator.iter_errors(document)]
    assert not errors, "\n".join(errors)
    assert_references_resolve(document)


def assert_references_resolve(document: dict[str, Any]) -> None:
    def walk(node: Any) -> None:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str):
                target: Any = document
                for part in ref.removeprefix("#/").split("/"):
                    assert isinstance(target, dict) and part in target, f"{ref} does not resolve"
                    target = target[part]
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(document)


@pytest.fixture
def contracts() -> SimpleNamespace:
    """The checks, for the tests (with pytest's importlib mode a conftest is not importable)."""
    return SimpleNamespace(
        assert_valid=assert_valid, asyncapi_validator=asyncapi_validator, openapi_validator=openapi_validator
    )
