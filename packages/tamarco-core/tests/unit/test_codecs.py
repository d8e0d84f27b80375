import json

import pytest
from tamarco.codecs import BytesCodec, Codec, DecodeError, EncodeError, JsonCodec, PickleCodec, StrCodec, YamlCodec
from tamarco.resources.bases import InputBase, OutputBase


@pytest.mark.parametrize(
    ("codec", "value"),
    [
        (JsonCodec, {"a": [1, 2.5, "ü", None, True]}),
        (YamlCodec, {"a": [1, 2.5, "ü", None, True], "b": {"c": "d"}}),
        (StrCodec, "héllo"),
        (PickleCodec, {"a": (1, 2), "b": {3}}),
        (BytesCodec, b"\x00\xffraw"),
    ],
)
def test_round_trip(codec, value):
    data = codec.encode(value)
    assert isinstance(data, bytes)
    assert codec.decode(data) == value
    assert codec().decode(codec().encode(value)) == value


@pytest.mark.parametrize(
    ("codec", "payload"),
    [
        (JsonCodec, b"{not json"),
        (JsonCodec, b"\xff\xfe"),
        (YamlCodec, b"a: [1, 2"),
        (StrCodec, b"\xff"),
        (PickleCodec, b"garbage"),
    ],
)
def test_decode_failure_keeps_payload(codec, payload):
    with pytest.raises(DecodeError) as info:
        codec.decode(payload)
    assert info.value.payload == payload
    assert codec.__name__ in str(info.value)


def test_json_decodes_what_json_loads_decodes_in_every_encoding():
    value = {"a": [1, 2.5, "ü", None, True]}
    text = json.dumps(value)
    for data in (
        text.encode("utf-8"),
        text.encode("utf-8-sig"),
        text.encode("utf-16"),
        text.encode("utf-32-le"),
        b'"\xed\xa0\x80"',  # a lone surrogate, as json.loads takes it
        b' \n{"a": 1}\t ',
        b"NaN",
        b"[1, -Infinity]",
        text,
    ):
        assert repr(JsonCodec.decode(data)) == repr(json.loads(data)), data
    for bad in (b'{"a": 1} trailing', b"", b"  ", b'{"a": 1', b"[1,]"):
        with pytest.raises(DecodeError, match="JsonCodec"):
            JsonCodec.decode(bad)


def test_json_encodes_what_the_stdlib_encoder_encodes():
    """The codec's encoder is the stdlib's C encoder built once: the same text as
    ``json.dumps`` with the codec's options, for every kind of value it takes."""
    import enum

    class Level(enum.IntEnum):
        HIGH = 3

    class Text(str):
        pass

    values = [
        {"a": [1, 2.5, "ü", None, True], "b": {"c": 'd\n"q"'}},
        "plain",
        Text("a str subclass"),
        3,
        -0.0,
        1e300,
        float("nan"),
        float("-inf"),
        2**80,
        Level.HIGH,
        [],
        {},
        {1: "int key", 2.5: "float key", None: "none key", False: "bool key"},
        ("a", "tuple"),
        "\ud800 lone surrogate",
        "\x00\x1f control and emoji \U0001f600",
    ]
    for value in values:
        expected = json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8", "surrogatepass")
        try:
            assert JsonCodec.encode(value) == expected, value
        except EncodeError:  # a lone surrogate is no UTF-8: refused by both ways
            with pytest.raises(UnicodeEncodeError):
                json.dumps(value, ensure_ascii=False).encode("utf-8")


def test_json_tells_a_circular_reference_and_data_nested_too_deep():
    looped: list[object] = []
    looped.append(looped)
    with pytest.raises(EncodeError, match="Circular reference detected"):
        JsonCodec.encode({"x": looped})
    deep: list[object] = []
    inner = deep
    for _ in range(100_000):
        inner.append([])
        inner = inner[0]  # type: ignore[assignment]
    with pytest.raises(EncodeError, match="nested too deep"):
        JsonCodec.encode(deep)
    assert JsonCodec.encode({"after": "both"}) == b'{"after":"both"}', "the encoder is still usable"


def test_encode_failures():
    with pytest.raises(EncodeError, match="JsonCodec"):
        JsonCodec.encode({"x": object()})
    with pytest.raises(EncodeError, match="StrCodec"):
        StrCodec.encode(b"bytes")
    with pytest.raises(EncodeError, match=r"BytesCodec.*expected bytes"):
        BytesCodec.encode("text")


def test_bytes_codec_takes_any_bytes_like_and_gives_bytes():
    assert BytesCodec.encode(bytearray(b"ab")) == b"ab"
    assert BytesCodec.encode(memoryview(b"cd")) == b"cd"
    decoded = BytesCodec.decode(memoryview(b"\xff"))
    assert type(decoded) is bytes and decoded == b"\xff"


def test_codec_none_means_raw_bytes_on_inputs_and_outputs():
    """0.1: an input or output built with ``codec=None`` hands over the payload untouched."""
    assert InputBase(codec=None).codec is BytesCodec
    assert OutputBase(codec=None).codec is BytesCodec
    assert OutputBase(codec=None).encode(b"\x01") == b"\x01"


def test_builtin_codecs_satisfy_protocol_and_custom_codecs_plug_in():
    class Upper:
        def encode(self, obj):
            return obj.upper().encode()

        def decode(self, data):
            return data.decode().lower()

    for codec in (JsonCodec(), YamlCodec(), StrCodec(), PickleCodec(), BytesCodec(), Upper()):
        assert isinstance(codec, Codec)
