"""The shared messaging suite on the in-memory transport."""

from __future__ import annotations

import pytest
from tamarco.harness.messaging_suite import InMemoryCase, MessagingCase, MessagingSuite


class TestInMemoryTransport(MessagingSuite):
    @pytest.fixture
    def messaging_case(self) -> MessagingCase:
        return InMemoryCase()
