"""tamarco-status: ``/status``, health probes and restart policies (resource ``status``)."""

from tamarco.resources.basic.status._config import (
    ALL,
    READINESS_CONDITIONS,
    Backoff,
    HealthConfig,
    RestartPolicyConfig,
    StatusConfig,
    load_status_config,
)
from tamarco.resources.basic.status._errors import StatusSettingsError, UnknownPolicyResource
from tamarco.resources.basic.status._loop_lag import LoopLagMonitor
from tamarco.resources.basic.status._redaction import Redactor
from tamarco.resources.basic.status._report import overall_http_code, resource_status
from tamarco.resources.basic.status._resource import StatusResource
from tamarco.resources.basic.status._restart import RestartPolicies

__all__ = [
    "ALL",
    "READINESS_CONDITIONS",
    "Backoff",
    "HealthConfig",
    "LoopLagMonitor",
    "Redactor",
    "RestartPolicies",
    "RestartPolicyConfig",
    "StatusConfig",
    "StatusResource",
    "StatusSettingsError",
    "UnknownPolicyResource",
    "load_status_config",
    "overall_http_code",
    "resource_status",
]
