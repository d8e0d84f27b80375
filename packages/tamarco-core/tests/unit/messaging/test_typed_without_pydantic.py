"""Without pydantic, a payload type needing it fails at class definition, naming the extra.

(No ``from __future__ import annotations`` here: the handler's annotation must be the class
itself, defined inside the test.)"""

import dataclasses
import sys

import pytest
from tamarco.core.extras import MissingExtraError
from tamarco.core.messaging import PullInput
from tamarco.core.microservice import Microservice


def test_without_pydantic_an_annotated_handler_fails_at_class_definition(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pydantic", None)

    @dataclasses.dataclass
    class Parcel:
        weight: int

    with pytest.raises(MissingExtraError, match=r"tamarco-core\[pydantic\]"):

        class Post(Microservice):
            name = "post"

            @PullInput(source="parcels")
            async def on_parcel(self, parcel: Parcel) -> None: ...

    with pytest.raises(MissingExtraError, match=r"tamarco-core\[pydantic\]"):
        PullInput[Parcel]("parcels")
