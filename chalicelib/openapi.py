"""The API's OpenAPI 3.1 document, served at /v2/openapi.json.

The webhooks part is kept by hand in ``openapi.json``; the resource part is written from
the registry (``resources.TYPES``), so a new type documents itself.
"""
from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

from chalicelib import resource_actions, resource_query
from chalicelib.errors import NESTED, SIMPLE
from chalicelib.inputs import MAX_ID
from chalicelib.resources import (
    BUDGET_INTERVALS,
    BUDGET_KEYS,
    EMAIL_PATTERN,
    MAX_DATETIME_LENGTH,
    MAX_INTEGER,
    MAX_LIST,
    SUBPROJECT_BUDGET_KEYS,
    THRESHOLDS,
    TIMEZONE_PATTERN,
    TYPES,
    Field,
    Param,
    ResourceType,
    error_shape,
)

PATH = Path(__file__).with_name("openapi.json")

_KINDS: dict[str, dict[str, Any]] = {
    "string": {"type": "string"},
    "email": {"type": "string", "format": "email"},
    "integer": {"type": "integer"},
    "number": {"type": "number"},
    "boolean": {"type": "boolean"},
    "date": {"type": "string", "format": "date"},
    "datetime": {"type": "string", "format": "date-time"},
    "ids": {"type": "array", "items": {"type": "integer", "minimum": 1, "maximum": MAX_INTEGER},
            "maxItems": MAX_LIST},
    "changes": {"type": "array", "minItems": 1, "maxItems": 50, "items": {
        "type": "object", "additionalProperties": False,
        "required": ["type", "time_since", "time_until"],
        "properties": {"type": {"type": "integer", "enum": [1, 2]},
                       "time_since": {"type": "string", "format": "date-time",
                                      "maxLength": MAX_DATETIME_LENGTH},
                       "time_until": {"type": "string", "format": "date-time",
                                      "maxLength": MAX_DATETIME_LENGTH}}}},
}


def _budget_schema(field: Field) -> dict[str, Any]:
    keys = BUDGET_KEYS if field.kind == "budget" else SUBPROJECT_BUDGET_KEYS
    properties: dict[str, Any] = {
        "amount": {"type": ["number", "null"], "minimum": 0, "maximum": field.maximum,
                   "description": "hours, or money when monetary; greater than 0 unless "
                                  "from_subprojects (then null or 0)"},
        "monetary": {"type": "boolean", "default": False},
        "hard": {"type": "boolean", "default": False},
        "notification_thresholds": {"type": "array", "maxItems": len(THRESHOLDS),
                                    "items": {"type": "integer", "enum": list(THRESHOLDS)},
                                    "default": []},
        "from_subprojects": {"type": "boolean", "default": False},
        "interval": {"type": ["integer", "null"], "enum": [*BUDGET_INTERVALS, None],
                     "description": "retainer budgets: 0 weekly, 1 monthly, 2 quarterly, "
                                    "3 yearly"},
    }
    return {"type": ["object", "null"], "additionalProperties": False,
            "required": ["amount"], "properties": {k: properties[k] for k in keys}}


def field_schema(field: Field) -> dict[str, Any]:
    """The JSON Schema of one field's value."""
    if field.kind in ("budget", "subproject_budget"):
        return _budget_schema(field)
    schema = dict(_KINDS[field.kind])
    if field.max_length is not None:
        schema["maxLength"] = field.max_length
    if field.kind in ("string", "email") and field.required:
        schema.update(minLength=1, pattern=r"\S")  # not only whitespace
    if field.kind == "email":
        schema["pattern"] = EMAIL_PATTERN
    if field.name == "timezone":
        schema["pattern"] = TIMEZONE_PATTERN
    if field.kind == "datetime":
        schema["maxLength"] = MAX_DATETIME_LENGTH
    if field.kind == "integer":  # ids and counts stay JSON-safe
        schema.update(minimum=1 if field.ref else -MAX_INTEGER, maximum=MAX_INTEGER)
    if field.minimum is not None:
        schema["minimum"] = field.minimum
    if field.maximum is not None:
        schema["maximum"] = field.maximum
    if field.enum is not None:
        schema["enum"] = list(field.enum)
    if field.ref is not None:
        schema["description"] = f"id of a {field.ref} of your company"
    if field.nullable:
        schema["type"] = [schema["type"], "null"]
        if "enum" in schema:
            schema["enum"] = [*schema["enum"], None]
    return schema


_PARAM_KINDS: dict[str, dict[str, Any]] = {
    "boolean": {"type": "boolean"},
    "integer": {"type": "integer"},
    "string": {"type": "string", "maxLength": 255},
    "date": {"type": "string", "format": "date"},
    "datetime": {"type": "string", "format": "date-time", "maxLength": MAX_DATETIME_LENGTH},
}


def query_parameter(param: Param) -> dict[str, Any]:
    """The OpenAPI description of one query parameter of the registry."""
    schema = dict(_PARAM_KINDS[param.kind])
    if param.minimum is not None:
        schema["minimum"] = param.minimum
    if param.maximum is not None:
        schema["maximum"] = param.maximum
    if param.enum is not None:
        schema["enum"] = list(param.enum)
    description = param.note
    if param.match == "none" and param.name not in ("page", "items_per_page", "sort",
                                                     "dry_run"):
        description = f"Accepted; no effect here ({param.note})"
    if param.many:
        # one value, several comma-separated ones, or the parameter repeated as name[]
        schema = {"type": "array", "items": schema, "minItems": 1, "maxItems": 100}
        description = (description + "; " if description else "") + \
            f"several values: comma-separated, or {param.name}[] repeated"
    found: dict[str, Any] = {"name": param.name, "in": "query", "required": param.required,
                             "schema": schema}
    if param.many:
        found.update(style="form", explode=False)
    if description:
        found["description"] = description
    return found


def _title(resource: ResourceType) -> str:
    return "".join(part.capitalize() for part in resource.name.split("_"))


def _schemas(resource: ResourceType) -> dict[str, Any]:
    name = _title(resource)
    props = {f.name: field_schema(f) for f in resource.fields}
    if resource.name == "project":  # computed from the subprojects when read
        props["count_subprojects"] = {"type": "integer", "minimum": 0}
        budget = props["budget"]
        props["budget"] = {**budget, "required": [*budget["required"],
                                                  "subprojects_budget_total"],
                           "properties": {**budget["properties"],
                                          "subprojects_budget_total": {"type": "number"}}}
    return {
        name: {"type": "object", "additionalProperties": False,
               "required": ["id", *props], "properties": {"id": {"type": "integer"}, **props}},
        f"{name}Create": {"type": "object", "additionalProperties": False,
                          "required": [f.name for f in resource.fields if f.required],
                          "properties": {f.name: field_schema(f) for f in resource.fields
                                         if not f.read_only}},
        f"{name}Edit": {"type": "object", "additionalProperties": False, "minProperties": 1,
                        "properties": {
                            "id": {"type": "integer", "description":
                                   "the item's own id, as clients send the item back; "
                                   "another id is refused (422 ForbiddenValue)"},
                            **{f.name: field_schema(f) for f in resource.fields
                               if not f.read_only and not f.create_only}}},
    }


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _refusal(route: str, status: int, text: str) -> dict[str, Any]:
    """A refusal's response, in the shape Clockodo's document gives the route (if any)."""
    shape = error_shape(route, status)
    return _json(_ref({NESTED: "NestedErrors", SIMPLE: "SimpleErrors"}.get(
        shape or "", "Errors")), text)


def _paths(resource: ResourceType) -> dict[str, Any]:
    name = _title(resource)

    def refusal(status: int, text: str) -> dict[str, Any]:
        return _refusal(resource.path, status, text)

    errors = {code: refusal(int(code), text) for code, text in (
        ("400", "Malformed request or missing X-Clockodo-External-Application"),
        ("401", "Missing or wrong credentials"))}
    item = _json({"type": "object", "required": [resource.item_key],
                  "additionalProperties": False,
                  "properties": {resource.item_key: _ref(name)}})
    listing: dict[str, Any] = {resource.list_key: {"type": "array", "items": _ref(name)}}
    extra = dict(resource.create_extra)
    created = item if not extra else _json({
        "type": "object", "required": [resource.item_key, *extra],
        "additionalProperties": False,
        "properties": {resource.item_key: _ref(name),
                       **{k: {"const": v} for k, v in extra.items()}}})
    answer = dict(resource.delete_answer)
    deleted = _json(_ref("Success")) if answer == {"success": True} else _json({
        "type": "object", "required": list(answer), "additionalProperties": False,
        "properties": {k: {"const": v} for k, v in answer.items()}})
    if resource.paged:
        listing["paging"] = _ref("Paging")
    params = [query_parameter(p) for p in resource_query.list_params(resource)]
    invalid = refusal(422, "Invalid values, or a referenced resource is missing")
    missing = refusal(404, f"No such {resource.name} in your company")
    id_param = {"name": "id", "in": "path", "required": True,
                "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ID}}
    item_ops = ["get", "edit", "delete", *(["complete"] if resource.completable else [])]
    item["links"] = {op: {"operationId": f"{op}_{resource.name}",
                          "parameters": {"id": f"$response.body#/{resource.item_key}/id"}}
                     for op in item_ops}
    tag = [resource.label_en]
    paths: dict[str, Any] = {
        resource.path: {
            "get": {"operationId": f"list_{resource.name}", "tags": tag, "parameters": params,
                    "responses": {"200": _json({"type": "object", "additionalProperties": False,
                                                "required": list(listing),
                                                "properties": listing}), **errors}},
            "post": {"operationId": f"create_{resource.name}", "tags": tag,
                     "requestBody": {"required": True, "content": {"application/json": {
                         "schema": _ref(f"{name}Create")}}},
                     "responses": {"200": created, **errors, "422": invalid}},
        },
        resource.path + "/{id}": {
            "parameters": [id_param],
            "get": {"operationId": f"get_{resource.name}", "tags": tag,
                    "parameters": [query_parameter(p) for p in resource.item_params],
                    "responses": {"200": item, **errors, "404": missing}},
            "put": {"operationId": f"edit_{resource.name}", "tags": tag,
                    "requestBody": {"required": True, "content": {"application/json": {
                        "schema": _ref(f"{name}Edit")}}},
                    "responses": {"200": item, **errors, "404": missing, "422": invalid,
                                  "409": refusal(409, "Changed meanwhile")}},
            "delete": {"operationId": f"delete_{resource.name}", "tags": tag,
                       "parameters": [query_parameter(p) for p in resource.delete_params],
                       "responses": {"200": deleted, **errors, "404": missing}},
        },
    }
    if resource.name == "user":  # see api_users
        paths[resource.path + "/{id}"]["delete"]["responses"].update({
            "409": refusal(409, "Changed meanwhile (a key of the user, say)"),
            "422": refusal(422, "Your own user (UserCannotDeleteThemselves)")})
    if resource.completable:
        paths[resource.path + "/{id}/complete"] = {
            "parameters": [id_param],
            "put": {"operationId": f"complete_{resource.name}", "tags": tag,
                    "requestBody": {"required": True, "content": {"application/json": {
                        "schema": {"type": "object", "additionalProperties": False,
                                   "required": ["completed"],
                                   "properties": {"completed": {"type": "boolean"}}}}}},
                    "responses": {"200": item, **errors, "404": missing, "422": invalid}}}
    return paths


def _action_paths() -> dict[str, Any]:
    """Clockodo's other routes on the 14 types (``resource_actions``)."""
    def errors(route: str) -> dict[str, Any]:
        return {code: _refusal(route, int(code), text) for code, text in (
            ("400", "Malformed request or missing X-Clockodo-External-Application"),
            ("401", "Missing or wrong credentials"), ("422", "Invalid values"))}

    id_param = {"name": "id", "in": "path", "required": True,
                "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ID}}
    tag = [resource_actions.CHANGE_REQUEST.label_en]
    requests = resource_actions.CHANGE_REQUEST.path

    def change_request_action(operation_id: str, summary: str, flags: tuple[str, ...],
                              answer: dict[str, Any], deprecated: bool) -> dict[str, Any]:
        body = {"type": "object", "additionalProperties": False,
                "properties": {flag: {"type": "boolean"} for flag in flags}}
        return {"parameters": [id_param], "post": {
            "operationId": operation_id, "tags": tag, "summary": summary,
            "deprecated": deprecated,
            "requestBody": {"required": False,
                            "content": {"application/json": {"schema": body}}},
            "responses": {"200": answer, **errors(requests),
                          "404": _refusal(requests, 404, "No such change request in your "
                                                         "company"),
                          "409": _refusal(requests, 409, "Not pending (StatusIsForbidden), "
                                                         "or changed meanwhile")}}}

    approve = ("Approve a pending change request: it is applied to the work times (not "
               "kept here) and ends, raising work_time_change_request.deleted")
    counted = {"type": "object", "additionalProperties": False,
               "required": ["customers_id", "active", "inactive"],
               "properties": {"customers_id": {"type": "integer"},
                              "active": {"type": "integer", "minimum": 0},
                              "inactive": {"type": "integer", "minimum": 0}}}
    return {
        "/v4/users/me": {"get": {
            "operationId": "get_current_user", "tags": ["User"],
            "summary": "Your own user: the one whose e-mail is your API user",
            "responses": {"200": _json({"type": "object", "required": ["data"],
                                        "additionalProperties": False,
                                        "properties": {"data": _ref("User")}}),
                          **errors("/v4/users/me")}}},
        "/v3/customers/countProjects": {"get": {
            "operationId": "count_projects_of_customers", "tags": ["Customer"],
            "summary": "Each customer's active and inactive projects, on one page",
            "parameters": [query_parameter(p)
                           for p in resource_actions.COUNT_PROJECTS_PARAMS],
            "responses": {"200": _json({
                "type": "object", "additionalProperties": False,
                "required": ["paging", "data"],
                "properties": {"paging": _ref("Paging"),
                               "data": {"type": "array", "items": counted}}}),
                **errors("/v3/customers/countProjects")}}},
        "/v3/workTimes/changeRequests/{id}/approve": change_request_action(
            "approve_work_time_change_request", approve, resource_actions.APPROVE_FIELDS,
            _json(_ref("Success")), deprecated=False),
        "/v2/workTimes/changeRequests/{id}/approve": change_request_action(
            "approve_work_time_change_request_v2", approve + " (v2: answers null)", (),
            _json({"type": "object", "required": ["change_request"],
                   "additionalProperties": False,
                   "properties": {"change_request": {"type": "null"}}}), deprecated=True),
        "/v2/workTimes/changeRequests/{id}/decline": change_request_action(
            "decline_work_time_change_request",
            "Decline a pending change request as your user (status 2, declined_at, "
            "declined_by): work_time_change_request.updated", (),
            _json(_ref(_title(resource_actions.CHANGE_REQUEST))), deprecated=True),
    }


#: What a created webhook's id leads to (OpenAPI links: clients and stateful fuzzers follow
#: them from ``createWebhook`` to the operations on the new webhook).
WEBHOOK_ITEM_OPERATIONS = ("getWebhook", "editWebhook", "deleteWebhook", "validateWebhook",
                           "verifyWebhook", "getWebhookSecret", "rotateWebhookSecret",
                           "listDeliveries", "recoverDeliveries")


def _link_webhook_operations(doc: dict[str, Any]) -> None:
    operations = {op.get("operationId") for item in doc["paths"].values()
                  for op in item.values() if isinstance(op, dict)}
    created = doc["paths"]["/v2/webhooks"]["post"]["responses"]["201"]
    created.setdefault("links", {}).update({
        name: {"operationId": name, "parameters": {"id": "$response.body#/data/id"}}
        for name in WEBHOOK_ITEM_OPERATIONS if name in operations})


@cache
def document() -> dict[str, Any]:
    """The whole document (built once per container)."""
    doc: dict[str, Any] = json.loads(PATH.read_text(encoding="utf-8"))
    _link_webhook_operations(doc)
    for resource in TYPES:
        doc["paths"].update(_paths(resource))
        doc["components"]["schemas"].update(_schemas(resource))
    doc["paths"].update(_action_paths())
    return doc


@cache
def _query_parameter_names() -> dict[tuple[str, str], frozenset[str]]:
    found = {}
    for path, item in document()["paths"].items():
        for method, operation in item.items():
            if method in ("get", "put", "post", "delete", "patch"):
                params = [*item.get("parameters", []), *operation.get("parameters", [])]
                found[(re.sub(r"\{[^}]+\}", "{}", path), method)] = frozenset(
                    name for p in params if p["in"] == "query"
                    for name in ((p["name"], p["name"] + "[]")
                                 if p["schema"].get("type") == "array" else (p["name"],)))
    return found


def query_parameter_names(route: str, method: str) -> frozenset[str] | None:
    """The query parameters the document names for a route (``/v2/webhooks/{webhook_id}``)
    and method, or None for a route it does not describe."""
    return _query_parameter_names().get((re.sub(r"\{[^}]+\}", "{}", route), method.lower()))
