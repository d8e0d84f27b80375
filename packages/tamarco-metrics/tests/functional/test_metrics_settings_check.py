"""The metrics resource takes part in the service's settings check: its wrong settings fail the
start with the other resources', each named by its full key, before anything starts or connects."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from tamarco.core.errors import ResourceSettingsError
from tamarco.core.messaging import InMemoryTransport, MessagingResource
from tamarco.core.microservice import MicroserviceContext
from tamarco.resources.bases import StatusCodes
from tamarco.resources.basic.metrics import MetricsResource, MetricsSettingsError

pytestmark = pytest.mark.functional

Builder = Callable[..., MicroserviceContext]


class Bus(MessagingResource):
    pass


async def test_wrong_metrics_keys_fail_the_start_with_the_other_resources_before_anything_starts(
    build: Builder,
) -> None:
    metrics_settings = {"colect_frequency": 5, "handlers": {"carbon": {"enabled": True, "port": 0}}}
    service = build("checked", metrics_settings, bus=Bus(transport=InMemoryTransport()))
    service.settings.update_internal({"system": {"resources": {"bus": {"conection_timeout": 1}}}})
    with pytest.raises(ResourceSettingsError) as raised:
        await service.start()
    await service.stop()
    text = str(raised.value)
    assert "wrong settings in 2 resources (" in text
    assert set(raised.value.errors) == {"metrics", "bus"}
    assert "setting system.resources.metrics.colect_frequency is unknown" in text
    assert "setting system.resources.metrics.handlers.carbon.host is missing" in text
    assert "setting system.resources.metrics.handlers.carbon.port must be a TCP port" in text
    assert "setting system.resources.bus.conection_timeout is unknown" in text
    metrics = service.resources["metrics"]
    assert isinstance(metrics, MetricsResource)
    assert isinstance(raised.value.errors["metrics"], MetricsSettingsError)
    assert metrics.status_code == StatusCodes.FAILED
    assert metrics.config is None  # its pre_start never ran
    assert service.resources["tamarco_http_report_server"].port is None  # nothing listened
    assert service.bus.transport is None  # nothing connected


async def test_right_metrics_settings_pass_the_check(build: Builder) -> None:
    service = build("checked_right", {"collect_frequency": 5, "handlers": {"stdout": {"enabled": False}}})
    async with service:
        metrics = service.resources["metrics"]
        assert isinstance(metrics, MetricsResource)
        assert metrics.config is not None and metrics.config.collect_frequency == 5
