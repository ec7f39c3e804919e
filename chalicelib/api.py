"""The HTTP edge: the current request and caller, envelopes, and the error middleware.

Chalice keeps ``app.current_request`` on the shared app object, which concurrent requests
of the (threaded) local server would overwrite; the middleware binds each request and its
caller to a context variable instead, which is per thread and per Lambda invocation.
"""
from __future__ import annotations

import contextvars
import time
from collections.abc import Callable
from typing import Any

from chalice.app import Request, Response

from chalicelib import auth, errors, limits, observability, resources, settings
from chalicelib.auth import Caller

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


def middleware(event: Request, get_response: Callable[[Request], Response]) -> Response:
    """Run the request as the ``api_handler`` function, and log it: one JSON line with
    the route (its template, never the query string), status, duration and company."""
    started = time.monotonic()
    with observability.running("api_handler"):
        response, company_id = _handle(event, get_response)
        route = event.context.get("resourcePath")
        duration_ms = int((time.monotonic() - started) * 1000)
        observability.logger.info("api request", extra={
            "method": event.method, "route": route, "status": response.status_code,
            "duration_ms": duration_ms, "company_id": company_id,
            "request_id": event.context.get("requestId")})
        observability.count("ApiRequests")
        observability.count("ApiLatency", duration_ms, "Milliseconds")
        if response.status_code >= 500:
            observability.count("ApiServerErrors")
    return response


def _handle(event: Request, get_response: Callable[[Request], Response]
            ) -> tuple[Response, int | None]:
    """Bind the request, authenticate it, count it against the API user's rate limit,
    and map every refusal to the error format."""
    request_token = _request.set(event)
    caller_token = None
    company_id = None
    try:
        if event.context.get("resourcePath") not in PUBLIC_PATHS:
            found = auth.authenticate(event.headers)
            caller_token = _caller.set(found)
            company_id = found.company.company_id
            limits.api_request(found.api_user, settings.get().rate_limit_per_minute)
        response = get_response(event)
    except errors.ApiError as error:
        return _refusal(event, error), company_id
    except Exception:  # noqa: BLE001 - logged whole, answered as a 500
        observability.logger.exception("unhandled error", extra={
            "method": event.method, "route": event.context.get("resourcePath")})
        response = Response(body={"Code": "InternalServerError",
                                  "Message": "An internal server error occurred."},
                            status_code=500)
    finally:
        if caller_token is not None:
            _caller.reset(caller_token)
        _request.reset(request_token)
    rewritten = errors.from_chalice_error(response.status_code, response.body)
    if rewritten is not None:
        return _refusal(event, rewritten), company_id
    return response, company_id


def _refusal(event: Request, error: errors.ApiError) -> Response:
    """The error response, in the shape Clockodo's document gives the route, if any."""
    shape = resources.error_shape(event.context.get("resourcePath"), error.status)
    return Response(body=errors.error_body(error, shape=shape), status_code=error.status,
                    headers={**JSON_HEADERS, **error.headers})
