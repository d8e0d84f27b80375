"""The shared messaging suite on the harness's Kafka broker."""

from typing import Any

import pytest
from tamarco.harness.messaging_suite import MessagingSuite

pytestmark = pytest.mark.functional


class TestKafka(MessagingSuite):
    @pytest.fixture
    def messaging_case(self, kafka_case: Any) -> Any:
        return kafka_case
