"""Secrets out of ``/status``, the probes and the restart-policy logs: the core's rules.

The status resource masks with the service's :attr:`~tamarco.core.microservice.MicroserviceBase.redactor`
(a :class:`tamarco.core.redaction.Redactor` following the settings), the one the service's logs
use; this module only re-exports it for 0.1-era imports.
"""

from __future__ import annotations

from tamarco.core.redaction import MASK, Redactor, is_secret_key, secret_values

__all__ = ["MASK", "Redactor", "is_secret_key", "secret_values"]
