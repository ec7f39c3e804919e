"""The HTTP edge: the current request and caller, envelopes, and the error middleware.

Chalice keeps ``app.current_request`` on the shared app object, which concurrent requests
of the (threaded) local server would overwrite; the middleware binds each request and its
caller to a context variable instead, which is per thread and per Lambda invocation.
"""
from __future__ import annotations

import contextvars
import logging
from collections.abc import Callable
from typing import Any

from chalice.app import Request, Response

from chalicelib import auth, errors
from chalicelib.auth import Caller

log = logging.getLogger("webhooks.api")

_request: contextvars.ContextVar[Request] = contextvars.ContextVar("request")
_caller: contextvars.ContextVar[Caller] = contextvars.ContextVar("caller")

#: Routes anyone may read without credentials.
PUBLIC_PATHS = frozenset({"/v2/openapi.json", "/", "/ui/{name}"})  # + the Webhooks tab

JSON_HEADERS: dict[str, str | list[str]] = {"Content-Type": "application/json"}


def request() -> Request:
    """The request being handled."""
    return _request.get()


def caller() -> Caller:
    """The authenticated caller of the request being handled."""
    return _caller.get()


def ok(data: Any, status: int = 200) -> Response:
    """Clockodo's envelope for one item: ``{"data": ...}``."""
    return Response(body={"data": data}, status_code=status, headers=JSON_HEADERS)


def body(payload: dict[str, Any], status: int = 200) -> Response:
    """A response whose body is ``payload`` as it is (lists, ``{"success": true}``)."""
    return Response(body=payload, status_code=status, headers=JSON_HEADERS)


def _error_response(status: int, payload: dict[str, Any]) -> Response:
    return Response(body=payload, status_code=status, headers=JSON_HEADERS)


def middleware(event: Request, get_response: Callable[[Request], Response]) -> Response:
    """Bind the request, authenticate it, and map every refusal to the error format."""
    request_token = _request.set(event)
    caller_token = None
    try:
        if event.context.get("resourcePath") not in PUBLIC_PATHS:
            caller_token = _caller.set(auth.authenticate(event.headers))
        response = get_response(event)
    except errors.ApiError as error:
        return _error_response(error.status, errors.error_body(error))
    except Exception:
        log.exception("unhandled error on %s %s", event.method, event.context.get("resourcePath"))
        response = Response(body={"Code": "InternalServerError",
                                  "Message": "An internal server error occurred."},
                            status_code=500)
    finally:
        if caller_token is not None:
            _caller.reset(caller_token)
        _request.reset(request_token)
    rewritten = errors.from_chalice_error(response.body)
    if rewritten is not None:
        return _error_response(response.status_code, rewritten)
    return response
