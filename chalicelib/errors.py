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


#: Error shapes Clockodo's document gives some endpoints beside the general one. The body
#: carries them *in addition to* the general ``errors`` list, so that clients written against
#: either read what they expect:
#: - NESTED: each item of ``errors`` also holds itself as ``error`` (the v3/v4 types' 422);
#: - SIMPLE: ``{"error": {"code", "message", "fields"}}`` (the time entries' 400).
NESTED = "nested"
SIMPLE = "simple"


def error_body(*errors: ApiError, shape: str | None = None) -> dict[str, Any]:
    """The response body for one or more errors, in ``shape`` where one is named."""
    items = [e.to_error() for e in errors]
    if shape == NESTED:
        items = [{**item, "error": dict(item)} for item in items]
    body: dict[str, Any] = {"errors": items}
    if shape == SIMPLE:
        body["error"] = {"code": errors[0].status, "message": errors[0].message,
                         "fields": [e.path for e in errors if e.path]}
    return body


#: Chalice's own error codes (raised before or around our views) and our types for them.
CHALICE_ERROR_TYPES = {
    "MethodNotAllowedError": "MethodNotAllowed",
    "BadRequestError": "BadRequest",
}


def from_chalice_error(status: int, body: Any) -> ApiError | None:
    """One of Chalice's ``{"Code", "Message"}`` bodies as an error of this API."""
    if not (isinstance(body, dict) and set(body) == {"Code", "Message"}):
        return None
    error_type = CHALICE_ERROR_TYPES.get(body["Code"], body["Code"])
    message = body["Message"]
    if error_type == "UnsupportedMediaType":
        message += "; send a JSON body with Content-Type: application/json"
    error = ApiError(message, type=error_type)
    error.status = status
    return error
