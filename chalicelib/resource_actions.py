"""Clockodo's routes on the 14 types beyond list, create, read, edit, delete and complete:
the current user, the customers' project counts, and a change request's approval and
decline. Each answers in the shape Clockodo's document gives it.

A change request is pending (status 1) until it is declined (status 2: an edit, so
``work_time_change_request.updated``) or approved. Approving applies the changes to the
user's work times, which this service does not keep, and ends the request: Clockodo's
statuses have no "approved", so an approved request is removed
(``work_time_change_request.deleted``).
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chalicelib import api_users, clock, inputs, resource_query, resource_store, resources, settings
from chalicelib.auth import Caller
from chalicelib.errors import Conflict
from chalicelib.resources import Param

Query = Mapping[str, str] | None

CHANGE_REQUEST = resources.get("work_time_change_request")
REQUESTED, DECLINED = 1, 2

#: ``GET /v3/customers/countProjects``
COUNT_PROJECTS_PARAMS = (
    Param("customers_id", "integer", many=True, minimum=0,
          note="the customers to count the projects of (default: every customer)"),
    Param("scope", "string", "none", enum=("manageAccess",),
          note="permissions: an API key acts for its whole company"),
)
#: ``POST /v3/workTimes/changeRequests/{id}/approve``'s body
APPROVE_FIELDS = ("approve_violations",)


def current_user(caller: Caller, query: Query) -> dict[str, Any]:
    """``GET /v4/users/me``: the API user's own user."""
    resource_query.read(query, ())
    return {"data": api_users.me(caller)}


def count_projects(caller: Caller, query: Query) -> dict[str, Any]:
    """``GET /v3/customers/countProjects``: each customer's active and inactive projects,
    all on one page (Clockodo's route takes no page parameters)."""
    values = resource_query.read(query, COUNT_PROJECTS_PARAMS)
    company_id = caller.company.company_id
    wanted = values.get("customers_id")
    counts = {customer["id"]: {"customers_id": customer["id"], "active": 0, "inactive": 0}
              for customer in resource_store.list_all(company_id, resources.get("customer"))
              if wanted is None or customer["id"] in wanted}
    for project in resource_store.list_all(company_id, resources.get("project")):
        if project["customers_id"] in counts:
            counts[project["customers_id"]]["active" if project["active"] else "inactive"] += 1
    listed = list(counts.values())
    return inputs.paginate(listed, 1, max(1, len(listed)))


def _body(raw: bytes | str | None, allowed: tuple[str, ...]) -> dict[str, Any]:
    """An optional JSON object (clients send ``{}`` or nothing)."""
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw or ""
    if not text.strip():
        return {}
    body = inputs.json_object(raw, max_bytes=settings.get().max_body_bytes, allowed=allowed)
    for name, value in body.items():  # every field here is a flag
        resources.check_value(resources.Field(name, "boolean"), value)
    return body


def _pending(caller: Caller, resource_id: int, action: str) -> tuple[dict[str, Any], int]:
    data, version = resource_store.get(caller.company.company_id, CHANGE_REQUEST,
                                       resource_id)
    if data["status"] != REQUESTED:
        raise Conflict(f"change request {resource_id} is declined; only a pending one can be "
                       f"{action}", path="id", type="StatusIsForbidden")
    return data, version


def approve(caller: Caller, resource_id: int, raw: bytes | str | None,
            query: Query) -> None:
    """Approve a pending change request: it is applied and ends (see above).
    ``approve_violations`` is accepted; no work-time rules are kept to violate."""
    resource_query.read(query, ())
    _body(raw, APPROVE_FIELDS)
    _, version = _pending(caller, resource_id, "approved")
    resource_store.delete(caller.company.company_id, CHANGE_REQUEST, resource_id,
                          version=version)


def decline(caller: Caller, resource_id: int, raw: bytes | str | None,
            query: Query) -> dict[str, Any]:
    """Decline a pending change request, as the API user's user; answers the request."""
    resource_query.read(query, ())
    _body(raw, ())
    current, version = _pending(caller, resource_id, "declined")
    data = resources.derived(CHANGE_REQUEST, current, {
        **current, "status": DECLINED, "declined_at": clock.now_iso(),
        "declined_by": api_users.me(caller)["id"]})
    resource_store.replace(caller.company.company_id, CHANGE_REQUEST, resource_id, data,
                           version)
    return resource_store.item_json(resource_id, data)
