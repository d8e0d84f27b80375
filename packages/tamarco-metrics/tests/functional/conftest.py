"""Fixtures of the tamarco-metrics functional tests: services with the default resources on
ephemeral ports, and a plain HTTP client to read their endpoints."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import aiohttp
import pytest
from tamarco.core.microservice import MicroserviceContext
from tamarco.resources.basic.metrics import GLOBAL_SCOPE

_names = itertools.count()


@pytest.fixture
async def http_session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as session:
        yield session


@pytest.fixture
def service_name(request: pytest.FixtureRequest) -> str:
    """A service name unique to the test (metric names in a shared Prometheus/carbon)."""
    return f"metrics_ft_{request.node.name.split('[')[0][-30:]}_{next(_names)}".replace("test_", "")


@pytest.fixture
def module_meter_name() -> Iterator[str]:
    """A unique process-wide meter name, forgotten after the test."""
    name = f"ft_module_level_{next(_names)}"
    yield name
    GLOBAL_SCOPE.families.pop(name, None)


def _settings_tree(metrics: dict[str, Any] | None = None, deploy_name: str | None = "functional") -> dict[str, Any]:
    """``system`` settings with the report server on a free port and ``metrics`` as given."""
    system: dict[str, Any] = {
        "resources": {"tamarco_http_report_server": {"port": 0}, "metrics": metrics or {}},
    }
    if deploy_name:
        system["deploy_name"] = deploy_name
    return {"system": system}


def _service_class(name: str, **attributes: Any) -> type[MicroserviceContext]:
    """A MicroserviceContext that gets the default resources (report server, metrics...)."""
    return type(
        f"Service_{name}",
        (MicroserviceContext,),
        {"name": name, "use_default_resources": True, **attributes},
    )


def _build(name: str, metrics_settings: dict[str, Any] | None = None, **attributes: Any) -> MicroserviceContext:
    service = _service_class(name, **attributes)()
    service.settings.update_internal(_settings_tree(metrics_settings))
    return service


@pytest.fixture
def build() -> Callable[..., MicroserviceContext]:
    """``build(name, metrics_settings, **class_attributes)``: a service with the default
    resources (unless ``use_default_resources=False``), not started."""
    return _build


@pytest.fixture
def service_class() -> Callable[..., type[MicroserviceContext]]:
    """``service_class(name, **class_attributes)``: the class ``build`` instantiates."""
    return _service_class


@pytest.fixture
def settings_tree() -> Callable[..., dict[str, Any]]:
    """``settings_tree(metrics_settings, deploy_name="functional")``: the settings ``build`` uses."""
    return _settings_tree
