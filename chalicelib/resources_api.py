"""The Clockodo resource API: list, create, read, edit, delete (and complete), for every
type of the registry, scoped to the caller's company, in Clockodo's envelopes."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chalicelib import api_users, inputs, resource_query, resource_store, resources, settings
from chalicelib.auth import Caller
from chalicelib.errors import Unprocessable
from chalicelib.resources import (
    OWN_USER,
    ResourceType,
    check_create,
    check_edit,
    derived,
    references,
)

Query = Mapping[str, str] | None


def _body(raw: bytes | str | None, allowed: Any) -> dict[str, Any]:
    return inputs.json_object(raw, max_bytes=settings.get().max_body_bytes, allowed=allowed)


def list_page(caller: Caller, resource: ResourceType, query: Query) -> dict[str, Any]:
    """A page of the type's resources (or all of them, where Clockodo does not page),
    narrowed and ordered by Clockodo's query parameters."""
    params = resource_query.list_params(resource)
    values = resource_query.read(query, params)
    company_id = caller.company.company_id
    if resource.paged and set(values) <= {"page", "items_per_page"}:
        # no filter, no sort: the page is the first page * items_per_page by id, and the
        # count is kept with every create and delete, so nothing else is read
        counted = resource_store.count(company_id, resource)
        if counted is not None:
            page = values.get("page", 1)
            per_page = values.get("items_per_page", resource_query.DEFAULT_ITEMS_PER_PAGE)
            start = (page - 1) * per_page
            items = [] if start >= counted else \
                resource_store.first(company_id, resource, start + per_page)[start:]
            return {"paging": {"items_per_page": per_page, "current_page": page,
                               "count_pages": max(1, -(-counted // per_page)),
                               "count_items": counted},
                    resource.list_key: _presented(caller, resource, items)}
    items = resource_store.list_all(company_id, resource)
    users = None
    if resource_query.needs_users(params, values):
        users = resource_query.Users.of(
            items if resource.name == "user" else
            resource_store.list_all(company_id, resources.get("user")),
            resource_store.list_all(company_id, resources.get("team")))
    listed = resource_query.page_of(
        resource, resource_query.apply(items, params, values, users), values)
    listed[resource.list_key] = _presented(caller, resource, listed[resource.list_key])
    return listed


def _presented(caller: Caller, resource: ResourceType,
               items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Items with the fields Clockodo computes from other resources: a project's
    ``count_subprojects`` and its budget's ``subprojects_budget_total``."""
    if resource.name != "project" or not items:
        return items
    counts: dict[int, int] = {}
    totals: dict[int, float] = {}
    for sub in resource_store.list_all(caller.company.company_id,
                                       resources.get("subproject")):
        counts[sub["projects_id"]] = counts.get(sub["projects_id"], 0) + 1
        amount = (sub.get("budget") or {}).get("amount") or 0
        totals[sub["projects_id"]] = round(totals.get(sub["projects_id"], 0) + amount, 6)
    result = []
    for item in items:
        shown = {**item, "count_subprojects": counts.get(item["id"], 0)}
        if item.get("budget") is not None:
            shown["budget"] = {**item["budget"],
                               "subprojects_budget_total": totals.get(item["id"], 0)}
        result.append(shown)
    return result


def _answer(caller: Caller, resource: ResourceType, resource_id: int,
            data: dict[str, Any]) -> dict[str, Any]:
    item = resource_store.item_json(resource_id, data)
    return {resource.item_key: _presented(caller, resource, [item])[0]}


def _own_user(caller: Caller, body: dict[str, Any]) -> dict[str, Any]:
    """Clockodo's default ``users_id``: the API user's own user."""
    if body.get(OWN_USER.name) is not None:
        return body
    return {**body, OWN_USER.name: api_users.me(caller)["id"]}


def get(caller: Caller, resource: ResourceType, resource_id: int,
        query: Query = None) -> dict[str, Any]:
    resource_query.read(query, resource.item_params)
    data, _ = resource_store.get(caller.company.company_id, resource, resource_id)
    return _answer(caller, resource, resource_id, data)


def create(caller: Caller, resource: ResourceType, raw: bytes | str | None,
           query: Query = None) -> dict[str, Any]:
    """Create a resource; its references must exist in the caller's company."""
    resource_query.read(query, ())
    body = _body(raw, allowed=[f.name for f in resource.fields] + ["id"])
    if OWN_USER in resource.fields:
        body = _own_user(caller, body)
    data = check_create(resource, body)
    if resource is api_users.USER:
        api_users.check_write(caller.company.company_id, None, None, data)
    resource_store.require_existing(caller.company.company_id, references(resource, data))
    resource_id = resource_store.create(caller.company.company_id, resource, data)
    return {**_answer(caller, resource, resource_id, data), **dict(resource.create_extra)}


def edit(caller: Caller, resource: ResourceType, resource_id: int,
         raw: bytes | str | None, query: Query = None) -> dict[str, Any]:
    """Change the fields the body names (PUT in Clockodo changes only what it is sent)."""
    resource_query.read(query, ())
    body = _without_own_id(_body(raw, allowed=[f.name for f in resource.fields] + ["id"]),
                           resource_id)
    current, version = resource_store.get(caller.company.company_id, resource, resource_id)
    data = check_edit(resource, current, body)
    if resource is api_users.USER:
        api_users.check_write(caller.company.company_id, resource_id, current, data)
    changed_refs = [ref for ref in references(resource, data) if ref[0] in body]
    resource_store.require_existing(caller.company.company_id, changed_refs)
    resource_store.replace(caller.company.company_id, resource, resource_id, data, version)
    return _answer(caller, resource, resource_id, data)


def _without_own_id(body: dict[str, Any], resource_id: int) -> dict[str, Any]:
    """Clients send the item they read back, its own ``id`` included, as Clockodo accepts:
    that id is dropped; another one is refused (an id cannot be changed)."""
    if "id" not in body:
        return body
    sent = body["id"]
    if isinstance(sent, bool) or sent != resource_id:
        raise Unprocessable(f"id {str(sent)[:40]} is not the id of this item ({resource_id}); "
                            "an id cannot be changed", path="id", type="ForbiddenValue",
                            details={"allowed_values": [resource_id]})
    return {name: value for name, value in body.items() if name != "id"}


def complete(caller: Caller, resource: ResourceType, resource_id: int,
             raw: bytes | str | None, query: Query = None) -> dict[str, Any]:
    """``PUT …/{id}/complete`` ``{"completed": true|false}``."""
    resource_query.read(query, ())
    body = _body(raw, allowed=("completed",))
    completed = body.get("completed")
    if not isinstance(completed, bool):
        raise Unprocessable("completed is required and must be true or false",
                                   path="completed", type="Empty" if completed is None
                                   else "UnexpectedValue", details=None if completed is None
                                   else {"expected_values": ["true", "false"]})
    current, version = resource_store.get(caller.company.company_id, resource, resource_id)
    data = derived(resource, current, {**current, "completed": completed})
    resource_store.replace(caller.company.company_id, resource, resource_id, data, version)
    return _answer(caller, resource, resource_id, data)


def delete(caller: Caller, resource: ResourceType, resource_id: int,
           query: Query = None) -> dict[str, Any]:
    """Delete a resource, a user with its API keys; with ``dry_run=true`` only check that
    it could be deleted."""
    values = resource_query.read(query, resource.delete_params)
    revoked = api_users.revocations(caller, resource_id) if resource is api_users.USER \
        else []
    if values.get("dry_run"):
        resource_store.get(caller.company.company_id, resource, resource_id)  # or 404
    else:
        resource_store.delete(caller.company.company_id, resource, resource_id, also=revoked)
    return dict(resource.delete_answer)
