import pytest
from tamarco.codecs import Codec, DecodeError, EncodeError, JsonCodec, PickleCodec, StrCodec, YamlCodec


@pytest.mark.parametrize(
    ("codec", "value"),
    [
        (JsonCodec, {"a": [1, 2.5, "ü", None, True]}),
        (YamlCodec, {"a": [1, 2.5, "ü", None, True], "b": {"c": "d"}}),
        (StrCodec, "héllo"),
        (PickleCodec, {"a": (1, 2), "b": {3}}),
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


def test_encode_failures():
    with pytest.raises(EncodeError, match="JsonCodec"):
        JsonCodec.encode({"x": object()})
    with pytest.raises(EncodeError, match="StrCodec"):
        StrCodec.encode(b"bytes")


def test_builtin_codecs_satisfy_protocol_and_custom_codecs_plug_in():
    class Upper:
        def encode(self, obj):
            return obj.upper().encode()

        def decode(self, data):
            return data.decode().lower()

    for codec in (JsonCodec(), YamlCodec(), StrCodec(), PickleCodec(), Upper()):
        assert isinstance(codec, Codec)
