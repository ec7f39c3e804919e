"""Clockodo's query parameters of the resource routes: read, checked, and applied to a list.

Which parameters a route takes is in the registry (``ResourceType.params``, ``sorts``,
``item_params``, ``delete_params``); this module reads them from a query string (400 for
unknown names and bad values), narrows and orders a list of items with them, and pages
the result. Pure logic: the items come from the store.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from chalicelib import clock, inputs
from chalicelib.errors import BadRequest
from chalicelib.resources import Param, ResourceType

DEFAULT_ITEMS_PER_PAGE = 100
MAX_PAGE = 10**6
_INTEGER = re.compile(r"^-?[0-9]{1,16}$")
_BOOLEANS = {"true": True, "1": True, "false": False, "0": False}


def paging_params(resource: ResourceType) -> tuple[Param, ...]:
    """``page`` and ``items_per_page`` with the type's limit, where the type is paged."""
    if not resource.paged:
        return ()
    return (Param("page", "integer", "none", minimum=1, maximum=MAX_PAGE),
            Param("items_per_page", "integer", "none", minimum=1,
                  maximum=resource.max_items_per_page,
                  note=f"default {DEFAULT_ITEMS_PER_PAGE}"))


def sort_param(resource: ResourceType) -> tuple[Param, ...]:
    """``sort``: field names, ``-`` in front for descending, later ones break ties."""
    if not resource.sorts:
        return ()
    values = tuple(v for name in resource.sorts for v in (name, f"-{name}"))
    return (Param("sort", "string", "none", many=True, enum=values),)


def list_params(resource: ResourceType) -> tuple[Param, ...]:
    """Every query parameter of the type's list route."""
    return (*paging_params(resource), *sort_param(resource), *resource.params)


def _fail(param: Param, message: str) -> BadRequest:
    return BadRequest(f"{param.name} {message}", path=param.name, type="UnexpectedValue",
                      details={"expected_values": [str(v) for v in param.enum] if param.enum
                               else [param.kind]})


def _value(param: Param, raw: str) -> Any:
    if param.kind == "boolean":
        if raw.lower() not in _BOOLEANS:
            raise _fail(param, "must be true or false")
        return _BOOLEANS[raw.lower()]
    if param.kind == "integer":
        if not _INTEGER.match(raw):
            raise _fail(param, "must be an integer")
        value: Any = int(raw)
        if (param.minimum is not None and value < param.minimum) or \
                (param.maximum is not None and value > param.maximum):
            raise BadRequest(f"{param.name} must be from {param.minimum} to {param.maximum}",
                             path=param.name, type="NotBetween",
                             details={"min": param.minimum, "max": param.maximum})
    elif param.kind == "date":
        try:
            if not re.match(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$", raw):
                raise ValueError(raw)
            value = date.fromisoformat(raw).isoformat()
        except ValueError:
            raise _fail(param, "must be a date YYYY-MM-DD") from None
    elif param.kind == "datetime":
        try:
            if len(raw) > 40:
                raise ValueError(raw)
            value = clock.format_utc(clock.parse_iso(raw))
        except ValueError:
            raise _fail(param, "must be an ISO 8601 date and time with a time zone, e.g. "
                               "2026-05-10T17:02:00Z") from None
    else:
        if len(raw) > 255:
            raise _fail(param, "has at most 255 characters")
        value = raw
    if param.enum is not None and value not in param.enum:
        raise _fail(param, f"must be one of {', '.join(map(str, param.enum))}")
    return value


def _raw_values(query: Any, name: str) -> list[str]:
    """All values sent for ``name`` (and ``name[]``), comma-separated ones split."""
    found: list[str] = []
    for key in (name, f"{name}[]"):
        if query is None or key not in query:
            continue
        values = query.getlist(key) if hasattr(query, "getlist") else [query[key]]
        found += values
    return found


def read(query: Mapping[str, str] | None, params: Iterable[Param]) -> dict[str, Any]:
    """The known parameters' values (lists for ``many`` ones); 400 for unknown names,
    missing required ones and bad values."""
    params = tuple(params)
    allowed = [name for p in params for name in ((p.name, f"{p.name}[]") if p.many
                                                  else (p.name,))]
    inputs.query(query, allowed)
    result: dict[str, Any] = {}
    for param in params:
        raw = _raw_values(query, param.name)
        if not raw:
            if param.required:
                raise BadRequest(f"the query parameter {param.name} is required",
                                 path=param.name, type="MissingParameter")
            continue
        if param.many:
            parts = [part.strip() for value in raw for part in value.split(",")]
            if len(parts) > 100:
                raise _fail(param, "takes at most 100 values")
            result[param.name] = [_value(param, part) for part in parts]
        else:
            result[param.name] = _value(param, raw[-1])
    return result


def _year(value: Any) -> int | None:
    if value is None:
        return None
    return value if isinstance(value, int) else int(str(value)[:4])


@dataclass(frozen=True)
class Users:
    """What the ``team`` and ``user_active`` filters and the ``teams_name`` sort need to
    know about the company's users and teams."""

    team_members: Mapping[int | None, frozenset[int]] = field(default_factory=dict)
    active: frozenset[int] = frozenset()
    team_names: Mapping[int, str] = field(default_factory=dict)

    @classmethod
    def of(cls, users: Iterable[Mapping[str, Any]],
           teams: Iterable[Mapping[str, Any]]) -> Users:
        members: dict[int | None, set[int]] = {}
        active = set()
        for user in users:
            members.setdefault(user.get("teams_id"), set()).add(user["id"])
            if user.get("active"):
                active.add(user["id"])
        return cls({k: frozenset(v) for k, v in members.items()}, frozenset(active),
                   {team["id"]: team["name"] for team in teams})


def needs_users(params: Iterable[Param], values: Mapping[str, Any]) -> bool:
    """Whether applying ``values`` needs the company's users and teams."""
    return any(p.match in ("team", "user_active") and p.name in values for p in params) \
        or any(key.lstrip("-") == "teams_name" for key in values.get("sort", []))


def _matches(param: Param, wanted: Any, item: Mapping[str, Any], users: Users) -> bool:
    values = wanted if isinstance(wanted, list) else [wanted]
    fields = param.fields
    if param.match == "eq":
        have = item.get(fields[0])
        if param.name == "filter[billable]" and wanted == 12:
            return have in (1, 2)
        return any(have == v or (v == 0 and have is None) for v in values)
    if param.match == "text":
        needle = str(wanted).casefold()
        return any(needle in str(item.get(f) or "").casefold() for f in fields)
    if param.match == "year":
        start = _year(item.get(fields[0]))
        if start is None:
            return False
        if len(fields) == 1:
            end: int | None = start
        elif item.get(fields[1]) is not None:
            end = _year(item.get(fields[1]))
        else:  # no end: a date is one day, a range of years is open
            end = start if isinstance(item.get(fields[0]), str) else None
        return any(start <= v and (end is None or v <= end) for v in values)
    if param.match == "since":  # the item's span reaches the value or later
        last = item.get(fields[-1]) if len(fields) > 1 else item.get(fields[0])
        return last is None or last >= wanted
    if param.match == "until":  # the item begins at the value or earlier
        return bool(item.get(fields[0]) is not None and item[fields[0]] <= wanted)
    if param.match == "team":
        return any(item.get(fields[0]) in users.team_members.get(v or None, ())
                   for v in values)
    if param.match == "user_active":
        return bool((item.get(fields[0]) in users.active) == wanted)
    return True  # "none": accepted, no effect


def _sort_key(value: Any) -> tuple[int, Any]:
    if value is None:
        return (0, "")
    if isinstance(value, str):
        return (1, value.casefold())
    return (1, value)


def apply(items: list[dict[str, Any]], params: Iterable[Param],
          values: Mapping[str, Any], users: Users | None = None) -> list[dict[str, Any]]:
    """The items the parameters select, in the order ``sort`` asks for (else by id)."""
    users = users or Users()
    selected = [item for item in items
                if all(_matches(p, values[p.name], item, users) for p in params
                       if p.name in values and p.match != "none")]
    for key in reversed(values.get("sort", [])):  # stable: the first key decides last
        name = key.lstrip("-")
        if name == "teams_name":
            selected.sort(key=lambda item: _sort_key(users.team_names.get(item["teams_id"])
                                                     if item.get("teams_id") else None),
                          reverse=key.startswith("-"))
            continue
        selected.sort(key=lambda item: _sort_key(item.get(name)),
                      reverse=key.startswith("-"))
    return selected


def page_of(resource: ResourceType, items: list[dict[str, Any]],
            values: Mapping[str, Any]) -> dict[str, Any]:
    """Clockodo's list envelope: a page of ``items`` where the type is paged."""
    if not resource.paged:
        return {resource.list_key: items}
    paged = inputs.paginate(items, values.get("page", 1),
                            values.get("items_per_page", DEFAULT_ITEMS_PER_PAGE))
    return {"paging": paged["paging"], resource.list_key: paged["data"]}
