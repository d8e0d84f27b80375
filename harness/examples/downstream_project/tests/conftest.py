"""A downstream project's conftest: the harness fixtures need no import or registration.

Only project-specific fixtures live here, built on the harness's session services.
"""

from __future__ import annotations

import pytest


@pytest.fixture
def service_env(etcd_service, redis_service, monkeypatch, etcd_prefix):
    """The environment the service under test reads, pointing at the harness's services."""
    for key, value in {**etcd_service.env(), **redis_service.env()}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("MY_SERVICE_ETCD_PREFIX", etcd_prefix)
    return dict(etcd_service.env(), **redis_service.env())
