"""Payload types: validation into models, errors without values, encoding, schemas."""

from __future__ import annotations

import dataclasses
import json
import sys
from typing import Any

import pytest
from tamarco.codecs import JsonCodec, YamlCodec
from tamarco.codecs.interface import DecodeError
from tamarco.core import payloads
from tamarco.core.extras import MissingExtraError
from tamarco.core.payloads import PayloadValidationError, encode_payload, payload_type

pydantic = pytest.importorskip("pydantic", reason="typed payloads need the pydantic extra")
# pydantic validates typing's TypedDict from Python 3.12; before, typing_extensions' (its dependency).
TypedDict = pytest.importorskip("typing_extensions").TypedDict


class Item(pydantic.BaseModel):
    sku: str
    price: float


class Order(pydantic.BaseModel):
    """An order of a shop."""

    id: int
    items: list[Item]
    card_password: str = ""

    @pydantic.field_validator("card_password")
    @classmethod
    def no_spaces(cls, value: str) -> str:
        if " " in value:
            raise ValueError(f"{value!r} has spaces")
        return value


@dataclasses.dataclass
class Point:
    x: int
    y: int


class Label(TypedDict):
    text: str


@pytest.mark.parametrize("annotation", [Any, dict, str, bytes, int, list[int], None])
def test_plain_annotations_are_not_payload_types(annotation: Any) -> None:
    assert payload_type(annotation) is None


def test_a_pydantic_model_validates_json_bytes() -> None:
    kind = payload_type(Order)
    assert kind is not None
    order = kind.from_json(b'{"id": 1, "items": [{"sku": "a", "price": "2.5"}]}')
    assert order == Order(id=1, items=[Item(sku="a", price=2.5)])
    assert kind.from_python({"id": "2", "items": []}).id == 2


def test_invalid_json_is_undecodable_not_invalid() -> None:
    kind = payload_type(Order)
    assert kind is not None
    with pytest.raises(DecodeError):
        kind.from_json(b"{not json")


def test_validation_errors_name_field_paths_and_never_values() -> None:
    kind = payload_type(Order)
    assert kind is not None
    with pytest.raises(PayloadValidationError) as raised:
        kind.from_json(b'{"id": "x-4111-1111", "items": [{"sku": "a", "price": "cheap"}], "card_password": "s3cr et"}')
    error = raised.value
    assert [entry["loc"] for entry in error.errors] == ["id", "items.0.price", "card_password"]
    headers = error.headers()
    listed = json.loads(headers[payloads.VALIDATION_ERRORS_HEADER])
    assert [entry["loc"] for entry in listed] == ["id", "items.0.price", "card_password"]
    text = json.dumps(headers) + str(error)
    for value in ("x-4111-1111", "cheap", "s3cr et"):
        assert value not in text  # no input value, not even through a custom validator's message
    assert listed[2]["msg"] == "value_error"
    assert headers["x-tamarco-payload-type"] == "Order"


def test_dataclasses_and_typed_dicts_validate_through_pydantic() -> None:
    point = payload_type(Point)
    label = payload_type(Label)
    assert point is not None and label is not None
    assert point.from_json(b'{"x": 1, "y": "2"}') == Point(1, 2)
    assert label.from_python({"text": "hi"}) == {"text": "hi"}
    with pytest.raises(PayloadValidationError, match="text"):
        label.from_json(b'{"nothing": 1}')


def test_msgspec_structs() -> None:
    msgspec = pytest.importorskip("msgspec")

    class Tick(msgspec.Struct):
        symbol: str
        price: float

    kind = payload_type(Tick)
    assert kind is not None
    assert kind.from_json(b'{"symbol": "X", "price": 1.5}') == Tick("X", 1.5)
    with pytest.raises(PayloadValidationError) as raised:
        kind.from_json(b'{"symbol": "X", "price": "high"}')
    assert raised.value.errors[0]["loc"] == "price"
    assert "high" not in str(raised.value)
    assert encode_payload(JsonCodec, Tick("X", 1.5)) == b'{"symbol":"X","price":1.5}'
    assert kind.json_schema()["required"] == ["symbol", "price"]


def test_models_are_encoded_by_the_codec() -> None:
    order = Order(id=1, items=[Item(sku="a", price=2.5)])
    assert json.loads(encode_payload(JsonCodec, order)) == {
        "id": 1,
        "items": [{"sku": "a", "price": 2.5}],
        "card_password": "",
    }
    assert YamlCodec.decode(encode_payload(YamlCodec, Point(1, 2))) == {"x": 1, "y": 2}
    assert encode_payload(JsonCodec, {"plain": True}) == b'{"plain":true}'


def test_a_bound_encoder_encodes_as_encode_payload() -> None:
    order = Order(id=7, items=[Item(sku="a", price=2.5)])
    for codec in (JsonCodec, YamlCodec):
        encode = payloads.encoder(codec)
        for value in ({"plain": True}, [1, "two"], "text", 3, order, Point(1, 2)):
            assert encode(value) == encode_payload(codec, value), (codec, value)
    typed = payloads.encoder(JsonCodec, payload_type(Order))
    assert typed(order) == encode_payload(JsonCodec, order, payload_type(Order))
    with pytest.raises(Exception, match="JsonCodec"):
        payloads.encoder(JsonCodec)({"not json": object()})


def test_json_schema_with_nested_types_under_a_ref_template() -> None:
    kind = payload_type(Order)
    assert kind is not None
    schema = kind.json_schema("#/components/schemas/{model}")
    assert schema["properties"]["items"]["items"] == {"$ref": "#/components/schemas/Item"}
    assert "Item" in schema["$defs"]


def test_without_pydantic_a_dataclass_payload_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    @dataclasses.dataclass
    class Other:
        value: int

    monkeypatch.setitem(sys.modules, "pydantic", None)
    with pytest.raises(MissingExtraError, match=r"pip install 'tamarco-core\[pydantic\]'"):
        payload_type(Other)


def test_content_types_of_the_codecs() -> None:
    assert payloads.content_type(JsonCodec) == "application/json"
    assert payloads.content_type(YamlCodec) == "application/yaml"
    assert payloads.content_type(object()) == "application/octet-stream"
