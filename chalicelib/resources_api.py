"""The Clockodo resource API: list, create, read, edit, delete (and complete), for every
type of the registry, scoped to the caller's company, in Clockodo's envelopes."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chalicelib import inputs, resource_query, resource_store, settings
from chalicelib.auth import Caller
from chalicelib.errors import Unprocessable
from chalicelib.resources import ResourceType, check_create, check_edit, references

Query = Mapping[str, str] | None


def _body(raw: bytes | str | None, allowed: Any) -> dict[str, Any]:
    return inputs.json_object(raw, max_bytes=settings.get().max_body_bytes, allowed=allowed)


def list_page(caller: Caller, resource: ResourceType, query: Query) -> dict[str, Any]:
    """A page of the type's resources (or all of them, where Clockodo does not page),
    narrowed and ordered by Clockodo's query parameters."""
    params = resource_query.list_params(resource)
    values = resource_query.read(query, params)
    items = resource_store.list_all(caller.company.company_id, resource)
    return resource_query.page_of(resource, resource_query.apply(items, params, values),
                                  values)


def get(caller: Caller, resource: ResourceType, resource_id: int,
        query: Query = None) -> dict[str, Any]:
    resource_query.read(query, resource.item_params)
    data, _ = resource_store.get(caller.company.company_id, resource, resource_id)
    return {resource.item_key: resource_store.item_json(resource_id, data)}


def create(caller: Caller, resource: ResourceType, raw: bytes | str | None,
           query: Query = None) -> dict[str, Any]:
    """Create a resource; its references must exist in the caller's company."""
    resource_query.read(query, ())
    body = _body(raw, allowed=[f.name for f in resource.fields] + ["id"])
    data = check_create(resource, body)
    resource_store.require_existing(caller.company.company_id, references(resource, data))
    resource_id = resource_store.create(caller.company.company_id, resource, data)
    return {resource.item_key: resource_store.item_json(resource_id, data)}


def edit(caller: Caller, resource: ResourceType, resource_id: int,
         raw: bytes | str | None, query: Query = None) -> dict[str, Any]:
    """Change the fields the body names (PUT in Clockodo changes only what it is sent)."""
    resource_query.read(query, ())
    body = _body(raw, allowed=[f.name for f in resource.fields] + ["id"])
    current, version = resource_store.get(caller.company.company_id, resource, resource_id)
    data = check_edit(resource, current, body)
    changed_refs = [ref for ref in references(resource, data) if ref[0] in body]
    resource_store.require_existing(caller.company.company_id, changed_refs)
    resource_store.replace(caller.company.company_id, resource, resource_id, data, version)
    return {resource.item_key: resource_store.item_json(resource_id, data)}


def complete(caller: Caller, resource: ResourceType, resource_id: int,
             raw: bytes | str | None, query: Query = None) -> dict[str, Any]:
    """``PUT …/{id}/complete`` ``{"completed": true|false}``."""
    resource_query.read(query, ())
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


def delete(caller: Caller, resource: ResourceType, resource_id: int,
           query: Query = None) -> dict[str, Any]:
    """Delete a resource; with ``dry_run=true`` only check that it could be deleted."""
    values = resource_query.read(query, resource.delete_params)
    if values.get("dry_run"):
        resource_store.get(caller.company.company_id, resource, resource_id)  # or 404
    else:
        resource_store.delete(caller.company.company_id, resource, resource_id)
    return {"success": True}
