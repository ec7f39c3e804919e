"""The Clockodo resource API: list, create, read, edit, delete (and complete), for every
type of the registry, scoped to the caller's company, in Clockodo's envelopes."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chalicelib import inputs, resource_store, settings
from chalicelib.auth import Caller
from chalicelib.errors import Unprocessable
from chalicelib.resources import ResourceType, check_create, check_edit, references

DEFAULT_ITEMS_PER_PAGE = 100
MAX_ITEMS_PER_PAGE = 1000


def _body(raw: bytes | str | None, allowed: Any) -> dict[str, Any]:
    return inputs.json_object(raw, max_bytes=settings.get().max_body_bytes, allowed=allowed)


def list_page(caller: Caller, resource: ResourceType,
              query: Mapping[str, str] | None) -> dict[str, Any]:
    """A page of the type's resources (or all of them, where Clockodo does not page)."""
    items = resource_store.list_all(caller.company.company_id, resource)
    if not resource.paged:
        inputs.query(query, ())
        return {resource.list_key: items}
    params = inputs.query(query, ("page", "items_per_page"))
    page = inputs.positive_int(params, "page", 1, 10**6)
    per_page = inputs.positive_int(params, "items_per_page", DEFAULT_ITEMS_PER_PAGE,
                                   MAX_ITEMS_PER_PAGE)
    paged = inputs.paginate(items, page, per_page)
    return {"paging": paged["paging"], resource.list_key: paged["data"]}


def get(caller: Caller, resource: ResourceType, resource_id: int) -> dict[str, Any]:
    data, _ = resource_store.get(caller.company.company_id, resource, resource_id)
    return {resource.item_key: resource_store.item_json(resource_id, data)}


def create(caller: Caller, resource: ResourceType, raw: bytes | str | None) -> dict[str, Any]:
    """Create a resource; its references must exist in the caller's company."""
    body = _body(raw, allowed=[f.name for f in resource.fields] + ["id"])
    data = check_create(resource, body)
    resource_store.require_existing(caller.company.company_id, references(resource, data))
    resource_id = resource_store.create(caller.company.company_id, resource, data)
    return {resource.item_key: resource_store.item_json(resource_id, data)}


def edit(caller: Caller, resource: ResourceType, resource_id: int,
         raw: bytes | str | None) -> dict[str, Any]:
    """Change the fields the body names (PUT in Clockodo changes only what it is sent)."""
    body = _body(raw, allowed=[f.name for f in resource.fields] + ["id"])
    current, version = resource_store.get(caller.company.company_id, resource, resource_id)
    data = check_edit(resource, current, body)
    changed_refs = [ref for ref in references(resource, data) if ref[0] in body]
    resource_store.require_existing(caller.company.company_id, changed_refs)
    resource_store.replace(caller.company.company_id, resource, resource_id, data, version)
    return {resource.item_key: resource_store.item_json(resource_id, data)}


def complete(caller: Caller, resource: ResourceType, resource_id: int,
             raw: bytes | str | None) -> dict[str, Any]:
    """``PUT …/{id}/complete`` ``{"completed": true|false}``."""
    body = _body(raw, allowed=("completed",))
    completed = body.get("completed")
    if not isinstance(completed, bool):
        raise Unprocessable("completed is required and must be true or false",
                                   path="completed", type="Empty" if completed is None
                                   else "UnexpectedValue")
    current, version = resource_store.get(caller.company.company_id, resource, resource_id)
    data = {**current, "completed": completed}
    resource_store.replace(caller.company.company_id, resource, resource_id, data, version)
    return {resource.item_key: resource_store.item_json(resource_id, data)}


def delete(caller: Caller, resource: ResourceType, resource_id: int) -> dict[str, Any]:
    resource_store.delete(caller.company.company_id, resource, resource_id)
    return {"success": True}
