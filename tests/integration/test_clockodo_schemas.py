"""Every create, read, list, edit and delete answer of the 14 types validates against the
response schema Clockodo's published document gives for that operation.

The document is read from the shared reference beside this checkout
(``../shared/reference/clockodo-openapi/resources.yaml``); a clone without it skips these
tests and says so. It is never copied into the repository.
"""
from __future__ import annotations

import functools
from typing import Any

import jsonschema
import pytest

from chalicelib import resources
from tests.integration.conftest import Tenant
from tests.openapi_check import assert_conforms
from tests.resource_samples import bodies, create_prerequisites, list_path

TYPES = [t.name for t in resources.TYPES]


@functools.cache
def clockodo() -> dict[str, Any]:
    import yaml

    from tests.reference import webhooks_reference

    path = webhooks_reference().with_name("resources.yaml")  # skips when absent
    return dict(yaml.safe_load(path.read_text(encoding="utf-8")))


def response_schema(path: str, method: str, status: int = 200) -> dict[str, Any] | None:
    """Clockodo's schema of the answer, or None where its document has no such
    operation (this service offers a few more, e.g. reading one change request)."""
    document = clockodo()
    operation = document["paths"].get(path, {}).get(method)
    if operation is None or str(status) not in operation["responses"]:
        return None
    schema = operation["responses"][str(status)]["content"]["application/json"]["schema"]
    return {**schema, "components": document["components"]}


def assert_clockodo_shape(path: str, method: str, response: Any) -> None:
    assert response.status_code == 200, response.json_body
    schema = response_schema(path, method)
    if schema is None:
        return
    validator = jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    errors = sorted(validator.iter_errors(response.json_body), key=lambda e: e.path)
    assert not errors, f"{method.upper()} {path}: " + "; ".join(
        f"{'/'.join(map(str, e.absolute_path))}: {e.message[:300]}" for e in errors[:8])


def create(tenant: Tenant, type_name: str, body: dict[str, Any]) -> int:
    resource = resources.get(type_name)
    response = tenant.call("POST", resource.path, body)
    assert response.status_code == 200, response.json_body
    return int(response.json_body[resource.item_key]["id"])


@pytest.mark.parametrize("type_name", TYPES)
def test_answers_have_clockodos_shape(tenant: Tenant, type_name: str) -> None:
    clockodo()
    ids = create_prerequisites(lambda name, body: create(tenant, name, body))
    resource = resources.get(type_name)
    create_body, edit_body = bodies(ids)[type_name]
    item = resource.path + "/{id}"

    created = tenant.call("POST", resource.path, create_body)
    assert_clockodo_shape(resource.path, "post", created)
    path = f"{resource.path}/{created.json_body[resource.item_key]['id']}"
    assert_clockodo_shape(item, "get", tenant.call("GET", path))
    assert_clockodo_shape(resource.path, "get",
                          tenant.call("GET", list_path(type_name, resource.path)))
    assert_clockodo_shape(item, "put", tenant.call("PUT", path, edit_body))
    assert_clockodo_shape(item, "delete", tenant.call("DELETE", path))


def test_lump_sum_entries_are_created_and_answered_as_clockodo_does(tenant: Tenant) -> None:
    clockodo()
    ids = create_prerequisites(lambda name, body: create(tenant, name, body))
    lump = create(tenant, "lump_sum_service", {"name": "Setup", "price": 80})
    base = {"customers_id": ids["customer"], "services_id": ids["service"],
            "users_id": ids["user"], "billable": 1, "time_since": "2026-03-02T08:00:00Z"}
    for body, kind in (({**base, "lumpsum": 120.5}, 2),
                       ({**base, "lumpsum_services_id": lump,
                         "lumpsum_services_amount": 3}, 3)):
        response = tenant.call("POST", "/v2/entries", body)
        assert_clockodo_shape("/v2/entries", "post", response)
        entry = response.json_body["entry"]
        assert (entry["type"], entry["duration"], entry["time_until"]) == (kind, None, None)
        path = "/v2/entries/{id}"
        assert_clockodo_shape(path, "get", tenant.call("GET", f"/v2/entries/{entry['id']}"))
    for bad in ({**base, "lumpsum": 1, "lumpsum_services_id": lump, "lumpsum_services_amount": 1},
                {**base, "lumpsum_services_id": lump}, {**base, "lumpsum": 5, "billable": 0},
                {**base, "lumpsum_services_id": 999, "lumpsum_services_amount": 1}):
        assert tenant.call("POST", "/v2/entries", bad).status_code == 422


def test_computed_fields_are_computed_as_clockodo_does(tenant: Tenant) -> None:
    ids = create_prerequisites(lambda name, body: create(tenant, name, body))
    user = tenant.call("GET", f"/v3/users/{ids['user']}").json_body["data"]
    assert (user["initials"], user["weekstart_monday"], user["nonbusiness_groups_id"]) == \
        ("WE", True, None)
    renamed = tenant.call("PUT", f"/v3/users/{ids['user']}", {"name": "Wendy Winter"})
    assert renamed.json_body["data"]["initials"] == "WW"

    base = {"customers_id": ids["customer"], "services_id": ids["service"],
            "users_id": ids["user"], "billable": 1}
    manual = tenant.call("POST", "/v2/entries", {
        **base, "time_since": "2026-03-02T08:00:00Z", "duration": 5400}).json_body["entry"]
    assert (manual["time_until"], manual["duration"], manual["clocked"]) == \
        ("2026-03-02T09:30:00Z", 5400, False)
    running = tenant.call("POST", "/v2/entries", {
        **base, "time_since": "2026-03-02T10:00:00Z"}).json_body["entry"]
    assert (running["duration"], running["clocked"], running["time_clocked_since"]) == \
        (None, True, "2026-03-02T10:00:00Z")
    path = f"/v2/entries/{running['id']}"
    stopped = tenant.call("PUT", path, {"time_until": "2026-03-02T10:15:00Z"}).json_body["entry"]
    assert (stopped["duration"], stopped["clocked"]) == (900, True)
    assert stopped["time_insert"] == running["time_insert"]
    again = tenant.call("PUT", path, {"time_until": "2026-03-02T10:15:00Z"}).json_body["entry"]
    assert again["time_last_change"] == stopped["time_last_change"]  # nothing changed

    # Monday to Sunday: five working days; a half day is half of one
    week = tenant.call("POST", "/v4/absences", {"date_since": "2026-03-02",
                                                "date_until": "2026-03-08", "type": 1,
                                                "users_id": ids["user"]}).json_body["data"]
    assert week["count_days"] == 5
    half = tenant.call("POST", "/v4/absences", {"date_since": "2026-03-09", "type": 1,
                                                "half_day": True,
                                                "users_id": ids["user"]}).json_body["data"]
    assert (half["count_days"], half["date_until"]) == (0.5, "2026-03-09")
    assert tenant.call("POST", "/v4/absences", {"date_since": "2026-03-09", "type": 1,
                                                "users_id": ids["user"],
                                                "count_hours": 2}).status_code == 422

    project = f"/v4/projects/{ids['project']}"
    tenant.call("PUT", project, {"budget": {"amount": 100}})
    create(tenant, "subproject", {"projects_id": ids["project"], "name": "S",
                                  "budget": {"amount": 30}})
    shown = tenant.call("GET", project).json_body["data"]
    assert (shown["count_subprojects"], shown["budget"]["subprojects_budget_total"]) == (1, 30)
    done = tenant.call("PUT", project + "/complete", {"completed": True}).json_body["data"]
    assert done["completed_at"] is not None
    assert tenant.call("PUT", project + "/complete",
                       {"completed": False}).json_body["data"]["completed_at"] is None
    customer = tenant.call("POST", "/v3/customers", {"name": "C", "color": None})
    assert customer.json_body["data"]["color"] == 1


def test_absences_and_entries_default_to_the_api_users_own_user(tenant: Tenant) -> None:
    ids = create_prerequisites(lambda name, body: create(tenant, name, body))
    me = tenant.call("GET", "/v4/users/me").json_body["data"]
    assert (me["email"], me["role"]) == (tenant.api_user, "owner")
    base = {"customers_id": ids["customer"], "services_id": ids["service"], "billable": 1,
            "time_since": "2026-03-02T08:00:00Z"}
    assert tenant.call("POST", "/v2/entries", base).json_body["entry"]["users_id"] == me["id"]
    assert tenant.call("POST", "/v4/absences", {"date_since": "2026-03-02", "type": 1}
                       ).json_body["data"]["users_id"] == me["id"]


def test_the_other_routes_answer_in_clockodos_shape(tenant: Tenant) -> None:
    """The current user, project counts, and a change request's approval and decline."""
    clockodo()
    ids = create_prerequisites(lambda name, body: create(tenant, name, body))
    assert_clockodo_shape("/v4/users/me", "get", tenant.call("GET", "/v4/users/me"))
    assert_clockodo_shape("/v3/customers/countProjects", "get", tenant.call(
        "GET", f"/v3/customers/countProjects?customers_id={ids['customer']}"))
    change = bodies(ids)["work_time_change_request"][0]

    def change_request() -> str:
        created = tenant.call("POST", "/v2/workTimes/changeRequests", change).json_body
        return str(created["change_request"]["id"])

    for version, action in (("v2", "decline"), ("v2", "approve"), ("v3", "approve")):
        path = f"/{version}/workTimes/changeRequests/{{id}}/{action}"
        response = tenant.call("POST", path.replace("{id}", change_request()), {})
        assert_clockodo_shape(path, "post", response)


def test_deleting_a_change_request_answers_as_clockodo_does(tenant: Tenant) -> None:
    ids = create_prerequisites(lambda name, body: create(tenant, name, body))
    created = tenant.call("POST", "/v2/workTimes/changeRequests",
                          bodies(ids)["work_time_change_request"][0]).json_body
    assert (created["replaced_change_request"], created["approved_immediately"]) == \
        (None, False)
    path = f"/v2/workTimes/changeRequests/{created['change_request']['id']}"
    assert tenant.call("DELETE", path).json_body == {"change_request": None}


def error_schema(path: str, method: str, status: int, error_type: str
                 ) -> dict[str, Any] | None:
    """Clockodo's schema of a refusal, or None where its document gives none.

    Where the document nests each error as ``{"error": {...}}`` it enumerates the
    endpoint's business-rule errors (``UntilBeforeSinceIsForbidden``, …); an error it does
    not list there (``Empty`` of a customer, ``UnknownField``, …) is checked against the
    same nesting with the document's general error object instead."""
    schema = response_schema(path, method, status) if status != 200 else None
    if schema is None:
        return None
    if "$ref" in schema:  # e.g. the entries' SimpleErrorResponses, which requires nothing:
        # a body without its ``error`` would match it only trivially
        target = clockodo()["components"]["schemas"][schema["$ref"].split("/")[-1]]
        schema = {**schema, "required": target.get("required") or list(target["properties"])}
    item_ref = schema.get("properties", {}).get("errors", {}).get("items", {}).get("$ref")
    if item_ref is None:
        return schema
    nested = clockodo()["components"]["schemas"][item_ref.split("/")[-1]]
    listed = {clockodo()["components"]["schemas"][v["$ref"].split("/")[-1]]
              ["properties"]["type"]["enum"][0]
              for v in nested["properties"]["error"]["anyOf"]}
    if error_type in listed:
        return schema
    general = {"type": "object", "required": ["error"], "properties": {"error": {
        "allOf": [{"$ref": "#/components/schemas/ApiErrors"},
                  {"required": ["type", "message", "path", "details"]}]}}}
    return {**schema, "properties": {"errors": {"type": "array", "items": general}}}


def refusals(tenant: Tenant, type_name: str) -> list[tuple[str, str, Any]]:
    """``(template, method, response)`` for the refusals a client meets most: a create
    with a wrong key, without its required fields or with an unknown one, an edit with
    another item's id, malformed JSON, an unknown query parameter and a missing item."""
    ids = create_prerequisites(lambda name, body: create(tenant, name, body))
    resource = resources.get(type_name)
    create_body, _ = bodies(ids)[type_name]
    item_id = create(tenant, type_name, create_body)
    item, path = resource.path + "/{id}", f"{resource.path}/{item_id}"
    listing = list_path(type_name, resource.path)
    return [
        (resource.path, "post", tenant.call("POST", resource.path, create_body,
                                            headers={**tenant.headers(), "X-ClockodoApiKey": "x"})),
        (resource.path, "post", tenant.call("POST", resource.path, {})),
        (resource.path, "post", tenant.call("POST", resource.path,
                                            {**create_body, "colour": 1})),
        (resource.path, "post", tenant.call("POST", resource.path, "{not json")),
        (resource.path, "get", tenant.call(
            "GET", listing + ("&" if "?" in listing else "?") + "unknown=1")),
        (item, "get", tenant.call("GET", path + "?unknown=1")),
        (item, "put", tenant.call("PUT", path, {"id": item_id + 1})),
        (item, "put", tenant.call("PUT", f"{resource.path}/99999999", {"id": 99999999})),
        (item, "delete", tenant.call("DELETE", path + "?unknown=1")),
    ]


@pytest.mark.parametrize("type_name", TYPES)
def test_refusals_have_clockodos_shape_where_its_document_gives_one(
        tenant: Tenant, type_name: str) -> None:
    checked = 0
    for template, method, response in refusals(tenant, type_name):
        body = response.json_body
        assert response.status_code >= 400, (template, method, body)
        assert_conforms(method, template.replace("{id}", "1"), response.status_code, body)
        schema = error_schema(template, method, response.status_code,
                              body["errors"][0]["type"])
        if schema is None:
            continue
        checked += 1
        validator = jsonschema.Draft202012Validator(schema)
        problems = [e.message[:200] for e in validator.iter_errors(body)]
        assert not problems, f"{method.upper()} {template} {response.status_code}: {problems}"
    # the change requests' documented refusals here are only the create's 401/403/404/409
    # (approve and decline have more); every other type documents several of these
    least = 1 if type_name == "work_time_change_request" else 3
    assert checked >= least, f"{type_name}: only {checked} checked"
