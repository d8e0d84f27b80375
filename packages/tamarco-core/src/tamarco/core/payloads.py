"""Typed payloads: message bodies validated into models, models encoded by codecs.

A handler whose message parameter is annotated with a pydantic v2 model, a dataclass, a
``TypedDict`` (both validated by pydantic) or a msgspec ``Struct`` receives that type, built
from the decoded body; an output declared as ``AMQPOutput[Order](...)`` (or any output) accepts
models. :func:`payload_type` tells how one annotation is validated, encoded and described (its
JSON Schema, for the AsyncAPI and OpenAPI documents). Unannotated parameters, ``Any``, ``dict``,
``str`` and the like are not payload types: such handlers keep receiving what the codec
produced.

A body that decodes but does not validate raises :class:`PayloadValidationError`: its
:meth:`~PayloadValidationError.headers` carry the field paths and error types, never input
values (and the messages of secret-looking fields are reduced to their type).

pydantic is optional (``pip install 'tamarco-core[pydantic]'``): without it, a dataclass or
``TypedDict`` annotation is a :class:`~tamarco.core.extras.MissingExtraError` at class
definition, naming the extra.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import json
import sys
from collections.abc import Callable
from typing import Any

from tamarco.core.extras import MissingExtraError
from tamarco.core.redaction import is_secret_key

try:  # typing_extensions' TypedDict (pydantic needs it before Python 3.12) is not typing's
    from typing_extensions import is_typeddict
except ModuleNotFoundError:  # pragma: no cover - no pydantic, no typing_extensions
    from typing import is_typeddict

__all__ = [
    "VALIDATION_ERRORS_HEADER",
    "PayloadType",
    "PayloadValidationError",
    "content_type",
    "decoder",
    "encode_payload",
    "payload_type",
]

#: The header of a dead-lettered message listing its validation errors (a JSON array of
#: ``{"loc": "items.0.price", "type": "float_parsing", "msg": "..."}``).
VALIDATION_ERRORS_HEADER = "x-tamarco-validation-errors"
_MAX_ERRORS = 20
_MAX_HEADER_TEXT = 1000


class PayloadValidationError(ValueError):
    """A decoded body does not match the handler's payload type.

    ``errors``: ``{"loc": dotted field path, "type": error type, "msg": message}`` per error —
    never the input values.
    """

    def __init__(self, type_name: str, errors: list[dict[str, str]]) -> None:
        self.type_name = type_name
        self.errors = errors
        shown = "; ".join(f"{error['loc'] or '(body)'}: {error['msg']}" for error in errors[:5])
        more = f" (+{len(errors) - 5} more)" if len(errors) > 5 else ""
        super().__init__(f"{len(errors)} validation error(s) for {type_name}: {shown}{more}")

    def headers(self) -> dict[str, str]:
        """The dead-letter headers describing the failure (besides the consumer's own)."""
        listed = json.dumps(self.errors[:_MAX_ERRORS], separators=(",", ":"), ensure_ascii=False)
        if len(listed) > _MAX_HEADER_TEXT:
            listed = json.dumps(
                [{"loc": error["loc"], "type": error["type"]} for error in self.errors[:_MAX_ERRORS]],
                separators=(",", ":"),
            )[:_MAX_HEADER_TEXT]
        return {VALIDATION_ERRORS_HEADER: listed, "x-tamarco-payload-type": self.type_name}


def _error_entry(loc: tuple[Any, ...] | str, kind: str, msg: str) -> dict[str, str]:
    path = loc if isinstance(loc, str) else ".".join(str(part) for part in loc)
    if any(is_secret_key(str(part)) for part in (path.split(".") if path else ())):
        msg = kind  # a custom validator's message may quote the value: not for secret fields
    return {"loc": path, "type": kind, "msg": msg}


class PayloadType:
    """How one payload annotation is validated, encoded and described.

    ``from_json(raw)`` validates JSON bytes directly (the JSON codec's fast path: no
    intermediate ``dict``); ``from_python(decoded)`` validates what another codec decoded;
    ``to_builtins(value)`` gives a codec plain data; ``json_schema()`` describes the type.
    Validation failures raise :class:`PayloadValidationError`; invalid JSON raises the codec's
    :class:`~tamarco.codecs.interface.DecodeError`.
    """

    def __init__(
        self,
        annotation: Any,
        *,
        from_json: Callable[[bytes], Any],
        from_python: Callable[[Any], Any],
        to_builtins: Callable[[Any], Any],
        to_json: Callable[[Any], bytes],
        json_schema: Callable[[str], dict[str, Any]],
    ) -> None:
        self.annotation = annotation
        self.name = getattr(annotation, "__name__", repr(annotation))
        self.from_json = from_json
        self.from_python = from_python
        self.to_builtins = to_builtins
        self.to_json = to_json
        self._json_schema = json_schema

    def json_schema(self, ref_template: str = "#/$defs/{model}") -> dict[str, Any]:
        """The JSON Schema of the type, its nested types under ``$defs`` and referenced with
        ``ref_template`` (``{model}``: a nested type's name)."""
        return self._json_schema(ref_template)

    def accepts(self, value: Any) -> bool:
        """Whether ``value`` is already of this type (outputs encode it rather than plain data)."""
        annotation = self.annotation
        return isinstance(annotation, type) and not is_typeddict(annotation) and isinstance(value, annotation)

    def __repr__(self) -> str:
        return f"<PayloadType {self.name}>"


def _is_pydantic_model(annotation: Any) -> bool:
    pydantic = sys.modules.get("pydantic")
    return pydantic is not None and isinstance(annotation, type) and issubclass(annotation, pydantic.BaseModel)


def _is_msgspec_struct(annotation: Any) -> bool:
    msgspec = sys.modules.get("msgspec")
    return msgspec is not None and isinstance(annotation, type) and issubclass(annotation, msgspec.Struct)


def is_payload_annotation(annotation: Any) -> bool:
    """Whether ``annotation`` is a payload type (a model, dataclass, TypedDict or Struct)."""
    if not isinstance(annotation, type):
        return False
    return (
        _is_pydantic_model(annotation)
        or _is_msgspec_struct(annotation)
        or dataclasses.is_dataclass(annotation)
        or is_typeddict(annotation)
    )


@functools.lru_cache(maxsize=256)
def payload_type(annotation: Any) -> PayloadType | None:
    """The :class:`PayloadType` of ``annotation``, or None when it is not one (plain data).

    A dataclass or ``TypedDict`` without pydantic installed raises
    :class:`~tamarco.core.extras.MissingExtraError` naming the ``pydantic`` extra.
    """
    if not is_payload_annotation(annotation):
        return None
    if _is_msgspec_struct(annotation):
        return _msgspec_type(annotation)
    try:
        import pydantic
    except ModuleNotFoundError:
        raise MissingExtraError(
            f"the payload type {getattr(annotation, '__qualname__', annotation)} is validated by pydantic, "
            "which is not installed: pip install 'tamarco-core[pydantic]' (the meta-package's "
            "tamarco[all] includes it)",
            name="pydantic",
        ) from None
    if isinstance(annotation, type) and issubclass(annotation, pydantic.BaseModel):
        return _pydantic_model_type(annotation)
    return _type_adapter_type(annotation)


def _pydantic_errors(error: Any) -> list[dict[str, str]]:
    return [
        _error_entry(entry["loc"], entry["type"], entry["msg"])
        for entry in error.errors(include_url=False, include_input=False, include_context=False)
    ]


def _json_failure(error: Any, annotation: Any, raw: bytes) -> Exception:
    """Invalid JSON is undecodable (the codec's error); anything else a validation error."""
    from tamarco.codecs.interface import DecodeError

    errors = _pydantic_errors(error)
    if errors and all(entry["type"] == "json_invalid" for entry in errors):
        return DecodeError("JsonCodec", bytes(raw), errors[0]["msg"])
    return PayloadValidationError(getattr(annotation, "__name__", repr(annotation)), errors)


def _pydantic_model_type(model: Any) -> PayloadType:
    return _pydantic_type(
        model,
        model.model_validate_json,
        model.model_validate,
        to_builtins=lambda value: value.model_dump(mode="json") if isinstance(value, model) else value,
        to_json=lambda value: (
            value.model_dump_json().encode() if isinstance(value, model) else _pydantic_dump_json(value)
        ),
        json_schema=lambda ref_template: model.model_json_schema(ref_template=ref_template),
    )


def _type_adapter_type(annotation: Any) -> PayloadType:
    import pydantic

    adapter = pydantic.TypeAdapter(annotation)
    return _pydantic_type(
        annotation,
        adapter.validate_json,
        adapter.validate_python,
        to_builtins=lambda value: adapter.dump_python(value, mode="json"),
        to_json=lambda value: bytes(adapter.dump_json(value)),
        json_schema=lambda ref_template: adapter.json_schema(ref_template=ref_template),
    )


def _pydantic_type(
    annotation: Any,
    validate_json: Callable[[bytes], Any],
    validate_python: Callable[[Any], Any],
    **encoding: Any,
) -> PayloadType:
    """A payload type validated by pydantic (a model's methods or a ``TypeAdapter``'s)."""
    import pydantic

    name = getattr(annotation, "__name__", repr(annotation))

    def from_json(raw: bytes) -> Any:
        try:
            return validate_json(raw)
        except pydantic.ValidationError as error:
            raise _json_failure(error, annotation, raw) from None

    def from_python(value: Any) -> Any:
        try:
            return validate_python(value)
        except pydantic.ValidationError as error:
            raise PayloadValidationError(name, _pydantic_errors(error)) from None

    return PayloadType(annotation, from_json=from_json, from_python=from_python, **encoding)


def _pydantic_dump_json(value: Any) -> bytes:
    import pydantic_core

    return bytes(pydantic_core.to_json(value))


def _msgspec_type(struct: Any) -> PayloadType:
    import msgspec

    decoder = msgspec.json.Decoder(struct)
    name = struct.__name__

    def failure(error: Exception) -> PayloadValidationError:
        text = str(error)
        path = ""
        if " - at `$" in text:
            text, _, where = text.partition(" - at `$")
            path = where.rstrip("`").lstrip(".").replace("[", ".").replace("]", "")
        return PayloadValidationError(name, [_error_entry(path, "msgspec", text)])

    def from_json(raw: bytes) -> Any:
        try:
            return decoder.decode(raw)
        except msgspec.ValidationError as error:
            raise failure(error) from None
        except msgspec.DecodeError as error:
            from tamarco.codecs.interface import DecodeError

            raise DecodeError("JsonCodec", bytes(raw), str(error)) from None

    def from_python(value: Any) -> Any:
        try:
            return msgspec.convert(value, struct)
        except msgspec.ValidationError as error:
            raise failure(error) from None

    def schema(ref_template: str) -> dict[str, Any]:
        template = ref_template.replace("{model}", "{name}")
        (root,), components = msgspec.json.schema_components([struct], ref_template=template)
        if components:
            root = dict(components.get(struct.__name__, root), **({"$defs": components} if len(components) > 1 else {}))
        document: dict[str, Any] = root
        return document

    return PayloadType(
        struct,
        from_json=from_json,
        from_python=from_python,
        to_builtins=msgspec.to_builtins,
        to_json=msgspec.json.encode,
        json_schema=schema,
    )


def handler_payload_annotation(handler: Callable[..., Any], *, skip_self: bool = True) -> Any:
    """The annotation of the handler's first (message) parameter, resolved; ``inspect.Parameter.empty``
    when there is none."""
    try:
        parameters = list(inspect.signature(handler, eval_str=True).parameters.values())
    except NameError:
        # A forward reference not resolvable yet (a model defined after the service): read it raw.
        parameters = list(inspect.signature(handler).parameters.values())
    except (TypeError, ValueError):
        return inspect.Parameter.empty
    if skip_self and parameters and parameters[0].name == "self":
        parameters = parameters[1:]
    if not parameters:
        return inspect.Parameter.empty
    return parameters[0].annotation


def handler_return_annotation(handler: Callable[..., Any]) -> Any:
    """The resolved return annotation of ``handler`` (``inspect.Signature.empty`` if none)."""
    try:
        return inspect.signature(handler, eval_str=True).return_annotation
    except (NameError, TypeError, ValueError):
        return inspect.Signature.empty


def decoder(codec: Any, kind: PayloadType | None) -> Callable[[bytes], Any]:
    """Body bytes to what a handler receives: the codec's result, or ``kind`` validated from it
    (straight from the bytes with the JSON codec: no intermediate ``dict``)."""
    if kind is None:
        return codec.decode  # type: ignore[no-any-return]
    if is_json_codec(codec):
        return kind.from_json
    from_python = kind.from_python
    decode = codec.decode
    return lambda raw: from_python(decode(raw))


#: Types that are never a payload model: encoded by the codec as they are, without asking.
_PLAIN = frozenset((dict, list, tuple, str, bytes, int, float, bool, type(None)))


def encode_payload(codec: Any, value: Any, kind: PayloadType | None = None) -> bytes:
    """Encode ``value`` with ``codec``; a model (of ``kind``, or any payload type) becomes plain
    data first, or JSON bytes straight from the model with the JSON codec."""
    if kind is None:
        annotation: Any = type(value)
        if annotation in _PLAIN or not is_payload_annotation(annotation):
            return bytes(codec.encode(value))
        kind = payload_type(annotation)
        assert kind is not None
    elif not kind.accepts(value) and not is_typeddict(kind.annotation):
        return bytes(codec.encode(value))
    if is_json_codec(codec):
        return kind.to_json(value)
    return bytes(codec.encode(kind.to_builtins(value)))


def encoder(codec: Any, kind: PayloadType | None = None) -> Callable[[Any], bytes]:
    """``encode_payload`` bound to ``codec`` and ``kind``, what an output calls per message: for
    plain data (a dict, a list, a string...) under no declared type, the codec's ``encode``
    straight away (the JSON codec's result is bytes already)."""
    if kind is not None:
        return lambda value: encode_payload(codec, value, kind)
    from tamarco.codecs import JsonCodec

    encode = codec.encode
    plain, gives_bytes = _PLAIN, codec is JsonCodec or type(codec) is JsonCodec

    def encode_value(value: Any) -> bytes:
        if type(value) in plain:
            return encode(value) if gives_bytes else bytes(encode(value))  # type: ignore[no-any-return]
        return encode_payload(codec, value)

    return encode_value


def is_json_codec(codec: Any) -> bool:
    from tamarco.codecs import JsonCodec

    return codec is JsonCodec or isinstance(codec, JsonCodec)


#: The content type of each built-in codec (a codec may declare its own ``content_type``).
_CONTENT_TYPES = {
    "JsonCodec": "application/json",
    "YamlCodec": "application/yaml",
    "StrCodec": "text/plain",
    "PickleCodec": "application/x-python-pickle",
}


def content_type(codec: Any) -> str:
    """The MIME type of what ``codec`` produces (``application/octet-stream`` if unknown)."""
    declared = getattr(codec, "content_type", None)
    if isinstance(declared, str):
        return declared
    name = codec.__name__ if isinstance(codec, type) else type(codec).__name__
    return _CONTENT_TYPES.get(name, "application/octet-stream")
