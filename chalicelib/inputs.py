"""Reading request input: JSON bodies, path ids, query parameters and plain fields.

Every refusal is an ``ApiError`` naming the offending ``path``, so no input reaches the
stores unchecked and none can turn into a 500.
"""
from __future__ import annotations

import base64
import json
from collections.abc import Callable, Collection, Mapping
from typing import Any

from chalicelib.errors import BadRequest, NotFound, PayloadTooLarge, Unprocessable

MAX_ID = 2**53 - 1  # ids are JSON-safe integers


def json_object(raw: bytes | str | None, *, max_bytes: int,
                allowed: Collection[str]) -> dict[str, Any]:
    """The request body as a JSON object with no fields beside ``allowed``."""
    raw = raw.encode("utf-8") if isinstance(raw, str) else (raw or b"")
    if len(raw) > max_bytes:
        raise PayloadTooLarge(f"the body is larger than {max_bytes} bytes", path="body",
                              details={"max_bytes": max_bytes})
    if not raw.strip():
        raise BadRequest("the body must be a JSON object", path="body", type="InvalidJson")
    try:
        body = json.loads(raw, parse_constant=_no_constants)
    except (ValueError, RecursionError):
        raise BadRequest("the body is not valid JSON", path="body", type="InvalidJson") \
            from None
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object", path="body", type="InvalidJson")
    if not _encodable(body):
        raise BadRequest("the body contains an unpaired UTF-16 surrogate (\\ud800-\\udfff), "
                         "which is no text", path="body", type="InvalidJson")
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        raise Unprocessable(
            f"unknown field {unknown[0]!r}; allowed: {', '.join(sorted(allowed))}",
            path=unknown[0], type="UnknownField", details={"unknown": unknown},
        )
    return body


def _encodable(value: Any) -> bool:
    """Whether every string in a parsed JSON value is real text (JSON's \\u escapes can
    spell lone surrogates, which neither UTF-8 nor DynamoDB can hold)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return False
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return True


def _no_constants(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def path_id(value: str, name: str = "id") -> int:
    """A positive integer id from the path; anything else names no resource (404)."""
    if not _digits(value) or not 0 < int(value) <= MAX_ID:
        raise NotFound(f"{value[:40]!r} is not an id", path=name)
    return int(value)


def _digits(value: str) -> bool:
    # Bounded length first: int() refuses (ValueError) strings of over 4300 digits.
    return 0 < len(value) <= 16 and value.isascii() and value.isdigit()


def optional_string(body: Mapping[str, Any], name: str, *, max_length: int = 255) -> str | None:
    """A string field of 1 to ``max_length`` printable characters, or None when absent."""
    if body.get(name) is None:
        return None
    value = body[name]
    if not isinstance(value, str):
        raise Unprocessable(f"{name} must be a string", path=name)
    if not value:
        raise Unprocessable(f"{name} must not be empty", path=name, type="Empty")
    if len(value) > max_length:
        raise Unprocessable(f"{name} has at most {max_length} characters", path=name,
                            type="NotBetween", details={"min": 1, "max": max_length})
    if not value.isprintable():
        raise Unprocessable(f"{name} must consist of printable characters", path=name)
    return value


def required_string(body: Mapping[str, Any], name: str, *, max_length: int = 255) -> str:
    """Like ``optional_string``, but the field must be there."""
    value = optional_string(body, name, max_length=max_length)
    if value is None:
        raise Unprocessable(f"{name} is required", path=name, type="Empty")
    return value


def choice(value: Any, name: str, options: Collection[str], hint: str = "") -> str:
    """A string that must be one of ``options``."""
    if not isinstance(value, str) or value not in options:
        shown = value if isinstance(value, str) else type(value).__name__
        raise Unprocessable(f"{name} {str(shown)[:80]!r} is not one of the allowed values{hint}",
                            path=name)
    return value


def query(params: Mapping[str, str] | None, allowed: Collection[str]) -> dict[str, str]:
    """The query parameters, refusing any the route does not know (typos stay visible)."""
    params = dict(params or {})
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        raise BadRequest(f"unknown query parameter {unknown[0]!r}; allowed: "
                         f"{', '.join(sorted(allowed))}", path=unknown[0],
                         type="UnknownParameter")
    return params


def documented_parameters_only(event: Any, get_response: Callable[[Any], Any]) -> Any:
    """HTTP middleware: a query parameter the OpenAPI document does not name for the route
    is a 400 ``UnknownParameter`` on every route, before its view runs (so that, e.g., a
    mistyped ``dry_run`` never lets a DELETE happen). Views check the values."""
    from chalicelib import openapi

    names = openapi.query_parameter_names(event.context.get("resourcePath", ""),
                                          event.method)
    if names is not None:
        query(event.query_params, names)
    return get_response(event)


def positive_int(params: Mapping[str, str], name: str, default: int, maximum: int) -> int:
    """A positive integer query parameter no larger than ``maximum``."""
    value = params.get(name)
    if value is None:
        return default
    if not _digits(value) or not 1 <= int(value) <= maximum:
        raise BadRequest(f"{name} must be an integer from 1 to {maximum}", path=name,
                         type="NotBetween", details={"min": 1, "max": maximum})
    return int(value)


def cursor(params: Mapping[str, str], valid: Callable[[str], bool]) -> str | None:
    """The position an opaque ``cursor`` parameter (``paging.next_cursor`` of the page
    before) stands for, or None without one; a cursor this API did not write is a 400."""
    value = params.get("cursor")
    if value is None:
        return None
    try:
        position = base64.urlsafe_b64decode(value.encode("ascii") + b"==").decode("utf-8")
    except (ValueError, UnicodeError):
        position = ""
    if not position.startswith("v1:") or not valid(position[3:]):
        raise BadRequest("cursor is not one this API wrote; pass paging.next_cursor of "
                         "the page before as it is", path="cursor", type="UnexpectedValue",
                         details={"expected_values": ["paging.next_cursor"]})
    return position[3:]


def cursor_page(items: list[Any], items_per_page: int, after: str | None) -> dict[str, Any]:
    """The list envelope of a cursor-paged list: ``next_cursor`` leads to the page after
    this one (null on the last)."""
    next_cursor = None
    if after is not None:
        next_cursor = base64.urlsafe_b64encode(f"v1:{after}".encode()).decode().rstrip("=")
    return {"paging": {"items_per_page": items_per_page, "next_cursor": next_cursor},
            "data": items}


def paginate(items: list[Any], page: int, items_per_page: int) -> dict[str, Any]:
    """Clockodo's list envelope for one page of ``items``."""
    count = len(items)
    start = (page - 1) * items_per_page
    return {
        "paging": {
            "items_per_page": items_per_page,
            "current_page": page,
            "count_pages": max(1, -(-count // items_per_page)),
            "count_items": count,
        },
        "data": items[start:start + items_per_page],
    }
