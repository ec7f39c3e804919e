"""One exception hierarchy for everything the API refuses, mapped once to Clockodo's error format.

``{"errors": [{"type": ..., "message": ..., "path": ..., "details": ...}]}``: clients match on
``type`` (Clockodo's PascalCase names where Clockodo has one), ``path`` names the offending
input (``"url"``, ``"body"``, a header) and ``details`` carries machine-readable context.
"""
from __future__ import annotations

from typing import Any

from chalice.app import ChaliceUnhandledError


# Chalice turns every exception raised in a view into a bare 500, except subclasses of
# ChaliceUnhandledError, which it re-raises so that the app's middleware can map them.
class ApiError(ChaliceUnhandledError):
    """A request the API refuses; ``status`` is the HTTP status code."""

    status = 400
    type = "BadRequest"

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        details: dict[str, Any] | None = None,
        type: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.headers: dict[str, str] = {}  # extra response headers (e.g. Retry-After)
        self.path = path
        self.details = details
        if type is not None:
            self.type = type

    def to_error(self) -> dict[str, Any]:
        """The error object of the response body."""
        return {"type": self.type, "message": self.message, "path": self.path,
                "details": self.details}


class BadRequest(ApiError):
    """The request is malformed: not JSON, not an object, a header missing."""

    status = 400
    type = "BadRequest"


class Unauthenticated(ApiError):
    """Missing or wrong credentials."""

    status = 401
    type = "Unauthenticated"


class Forbidden(ApiError):
    """Understood, but the company's plan does not allow it."""

    status = 403
    type = "Forbidden"


class NotFound(ApiError):
    """No such resource in the caller's company (also used for other companies' resources)."""

    status = 404
    type = "ResourceNotFound"


class Conflict(ApiError):
    """The request collides with the current state (a duplicate token, a wrong status)."""

    status = 409
    type = "Conflict"


class PayloadTooLarge(ApiError):
    """The body is larger than the API accepts."""

    status = 413
    type = "PayloadTooLarge"


class Unprocessable(ApiError):
    """Well-formed input with invalid values (Clockodo's 422)."""

    status = 422
    type = "UnexpectedValue"


class ServiceUnavailable(ApiError):
    """A transient failure the caller may retry."""

    status = 503
    type = "ServiceUnavailable"


def error_body(*errors: ApiError) -> dict[str, Any]:
    """The response body for one or more errors."""
    return {"errors": [e.to_error() for e in errors]}


#: Chalice's own error codes (raised before or around our views) and our types for them.
CHALICE_ERROR_TYPES = {
    "MethodNotAllowedError": "MethodNotAllowed",
    "BadRequestError": "BadRequest",
}


def from_chalice_error(body: Any) -> dict[str, Any] | None:
    """Rewrite one of Chalice's ``{"Code", "Message"}`` bodies into the error format."""
    if not (isinstance(body, dict) and set(body) == {"Code", "Message"}):
        return None
    error_type = CHALICE_ERROR_TYPES.get(body["Code"], body["Code"])
    message = body["Message"]
    if error_type == "UnsupportedMediaType":
        message += "; send a JSON body with Content-Type: application/json"
    return {"errors": [{"type": error_type, "message": message, "path": None,
                        "details": None}]}
