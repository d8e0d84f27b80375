"""Errors of the messaging seam. Each names the resource, queue/topic or setting involved."""

from __future__ import annotations

from tamarco.core.errors import ExpectedStartFailure

__all__ = [
    "AuthenticationError",
    "HandlerTimeoutError",
    "MessagingError",
    "MessagingSettingsError",
    "NotConnectedError",
    "PublishError",
    "RequestTimeoutError",
]


class MessagingError(Exception):
    """Base class of messaging failures."""


class MessagingSettingsError(MessagingError, ExpectedStartFailure, ValueError):
    """A messaging setting has a wrong value (the message names the full key)."""


class NotConnectedError(MessagingError, ConnectionError):
    """The resource is not connected to its broker (not started, stopped, or reconnecting past the deadline)."""


class PublishError(MessagingError):
    """The broker did not accept a message (not confirmed, too large, no route...)."""


class RequestTimeoutError(MessagingError, TimeoutError):
    """Nobody answered a request in time."""


class AuthenticationError(MessagingError):
    """The broker refused the credentials (never retried; the message names the user, never the password)."""


class HandlerTimeoutError(MessagingError, TimeoutError):
    """A handler ran past its input's ``handler_timeout_seconds`` and was cancelled; the message
    is retried, then dead-lettered, like any failure."""
