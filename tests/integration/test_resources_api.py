"""The Clockodo resource API through Chalice's test client, against moto."""
from __future__ import annotations

from typing import Any

import pytest

from chalicelib import resources
from tests.integration.conftest import Tenant
from tests.openapi_check import assert_conforms
from tests.resource_samples import bodies, create_prerequisites, list_path

TYPES = [t.name for t in resources.TYPES]


def create(tenant: Tenant, type_name: str, body: dict[str, Any]) -> int:
    resource = resources.get(type_name)
    response = tenant.call("POST", resource.path, body)
    assert response.status_code == 200, response.json_body
    return int(response.json_body[resource.item_key]["id"])


@pytest.fixture
def ids(tenant: Tenant) -> dict[str, int]:
    return create_prerequisites(lambda name, body: create(tenant, name, body))


def checked(tenant: Tenant, method: str, path: str, body: Any = None) -> Any:
    response = tenant.call(method, path, body)
    assert_conforms(method, path, response.status_code, response.json_body)
    return response


@pytest.mark.parametrize("type_name", TYPES)
def test_create_read_list_edit_delete(tenant: Tenant, ids: dict[str, int],
                                      type_name: str) -> None:
    resource = resources.get(type_name)
    create_body, edit_body = bodies(ids)[type_name]
    created = checked(tenant, "POST", resource.path, create_body).json_body
    item = created[resource.item_key]
    assert all(item[k] == v for k, v in create_body.items() if k != "changes")
    path = f"{resource.path}/{item['id']}"

    assert checked(tenant, "GET", path).json_body == {resource.item_key: item}
    listed = checked(tenant, "GET", list_path(type_name, resource.path)).json_body
    assert item in listed[resource.list_key]
    assert ("paging" in listed) == resource.paged

    edited = checked(tenant, "PUT", path, edit_body).json_body[resource.item_key]
    assert all(edited[k] == v for k, v in edit_body.items())
    computed = {f.name for f in resource.fields if f.read_only}  # initials, count_days…
    assert all(edited[k] == item[k] for k in item if k not in {*edit_body, *computed})
    assert checked(tenant, "GET", path).json_body[resource.item_key] == edited

    assert checked(tenant, "DELETE", path).json_body == dict(resource.delete_answer)
    assert checked(tenant, "GET", path).status_code == 404
    assert tenant.call("DELETE", path).status_code == 404


@pytest.mark.parametrize("type_name", TYPES)
def test_bad_input_stores_nothing(tenant: Tenant, ids: dict[str, int], type_name: str) -> None:
    resource = resources.get(type_name)
    create_body, _ = bodies(ids)[type_name]
    before = tenant.call("GET", list_path(type_name, resource.path)).json_body[resource.list_key]
    required = next(f for f in resource.fields if f.required)
    cases = [
        (b"{", 400, "InvalidJson"),
        (b"[]", 400, "InvalidJson"),
        ({**create_body, "bogus": 1}, 422, "UnknownField"),
        ({k: v for k, v in create_body.items() if k != required.name}, 422, "Empty"),
        ({**create_body, required.name: {"an": "object"}}, 422, "UnexpectedValue"),
        ({**create_body, "id": 1}, 422, "ForbiddenValue"),
    ]
    for body, status, type_ in cases:
        response = checked(tenant, "POST", resource.path, body)
        assert response.status_code == status, (body, response.json_body)
        assert response.json_body["errors"][0]["type"] == type_
    assert tenant.call("GET", list_path(type_name, resource.path)).json_body[
        resource.list_key] == before


def test_references_must_exist_in_the_same_company(tenant: Tenant, other_tenant: Tenant,
                                                   ids: dict[str, int]) -> None:
    theirs = create(other_tenant, "customer", {"name": "Theirs"})
    for customers_id in (theirs, 999_999):
        response = checked(tenant, "POST", "/v4/projects",
                           {"name": "P", "customers_id": customers_id})
        assert response.status_code == 422
        error = response.json_body["errors"][0]
        assert (error["type"], error["path"]) == ("ResourceNotFound", "customers_id")
    team = tenant.call("POST", "/v3/teams", {"name": "T", "user_ids": [ids["user"], 424242]})
    assert team.json_body["errors"][0]["details"] == {"id": 424242}
    project = f"/v4/projects/{ids['project']}"
    moved = tenant.call("PUT", project, {"customers_id": theirs})
    assert moved.status_code == 422
    assert tenant.call("GET", project).json_body["data"]["customers_id"] == ids["customer"]
    assert [p["id"] for p in tenant.call("GET", "/v4/projects").json_body["data"]] == \
        [ids["project"]]


def test_other_companies_resources_are_404(tenant: Tenant, other_tenant: Tenant) -> None:
    theirs = create(other_tenant, "customer", {"name": "Theirs"})
    for method, body in (("GET", None), ("PUT", {"name": "x"}), ("DELETE", None)):
        assert tenant.call(method, f"/v3/customers/{theirs}", body).status_code == 404
    assert tenant.call("GET", "/v3/customers").json_body["data"] == []
    assert other_tenant.call("GET", f"/v3/customers/{theirs}").json_body["data"]["name"] == \
        "Theirs"


@pytest.mark.parametrize("type_name", ["project", "subproject"])
def test_complete(tenant: Tenant, ids: dict[str, int], type_name: str) -> None:
    resource = resources.get(type_name)
    item_id = ids.get(type_name) or create(tenant, type_name, bodies(ids)[type_name][0])
    path = f"{resource.path}/{item_id}/complete"
    done = checked(tenant, "PUT", path, {"completed": True}).json_body["data"]
    assert done["completed"] is True
    assert checked(tenant, "PUT", path, {"completed": "yes"}).status_code == 422
    assert checked(tenant, "PUT", path, {}).status_code == 422
    assert checked(tenant, "PUT", path, {"completed": False, "x": 1}).status_code == 422
    assert tenant.call("PUT", f"{resource.path}/999999/complete",
                       {"completed": True}).status_code == 404
    assert tenant.call("PUT", f"{resource.path}/{item_id}",
                       {"completed": False}).json_body["errors"][0]["type"] == "ForbiddenValue"


def test_running_entries_stop_when_they_get_an_end(tenant: Tenant, ids: dict[str, int]) -> None:
    running = create(tenant, "entry", {"customers_id": ids["customer"],
                                       "services_id": ids["service"], "billable": 0,
        "users_id": ids["user"],
                                       "time_since": "2026-03-02T08:00:00+01:00"})
    entry = tenant.call("GET", f"/v2/entries/{running}").json_body["entry"]
    assert (entry["time_since"], entry["time_until"]) == ("2026-03-02T07:00:00Z", None)
    stopped = tenant.call("PUT", f"/v2/entries/{running}",
                          {"time_until": "2026-03-02T09:30:00Z"}).json_body["entry"]
    assert stopped["time_until"] == "2026-03-02T09:30:00Z"


def test_paging(tenant: Tenant) -> None:
    for index in range(5):
        create(tenant, "service", {"name": f"S{index}"})
    page = tenant.call("GET", "/v4/services?items_per_page=2&page=3").json_body
    assert page["paging"] == {"items_per_page": 2, "current_page": 3, "count_pages": 3,
                              "count_items": 5}
    assert [s["name"] for s in page["data"]] == ["S4"]
    assert tenant.call("GET", "/v4/absences?page=2").status_code == 400  # absences don't page


def test_an_entry_before_the_year_1000_round_trips_and_stops(tenant: Tenant,
                                                             ids: dict[str, int]) -> None:
    running = checked(tenant, "POST", "/v2/entries", {
        "customers_id": ids["customer"], "services_id": ids["service"], "billable": 0,
        "users_id": ids["user"],
        "time_since": "1000-01-01T00:00:00+01:00"}).json_body["entry"]
    assert running["time_since"] == "0999-12-31T23:00:00Z"
    stopped = checked(tenant, "PUT", f"/v2/entries/{running['id']}",
                      {"time_until": "0999-12-31T23:30:00Z"}).json_body["entry"]
    assert stopped["time_until"] == "0999-12-31T23:30:00Z"


@pytest.mark.parametrize("budget", [{"amount": 1e-300}, {"amount": 5, "": 1},
                                    {"amount": 5, "notification_thresholds": [1e-300]},
                                    {"amount": 5, "x": {"y": 1e-300}}])
def test_budgets_dynamodb_cannot_store_are_refused_and_change_nothing(
        tenant: Tenant, ids: dict[str, int], budget: dict[str, Any]) -> None:
    path = f"/v4/projects/{ids['project']}"
    before = tenant.call("GET", path).json_body
    for method, url, body in (("POST", "/v4/projects", {"name": "P", "budget": budget,
                                                         "customers_id": ids["customer"]}),
                              ("PUT", path, {"budget": budget}),
                              ("POST", "/v3/subprojects", {"name": "S", "budget": budget,
                                                            "projects_id": ids["project"]})):
        response = checked(tenant, method, url, body)
        assert response.status_code == 422, response.json_body
        assert response.json_body["errors"][0]["path"].startswith("budget.")
    assert tenant.call("GET", path).json_body == before
    assert tenant.call("GET", "/v4/projects").json_body["paging"]["count_items"] == 1
    assert tenant.call("GET", "/v3/subprojects").json_body["paging"]["count_items"] == 0


@pytest.mark.parametrize("type_name", TYPES)
def test_an_edit_may_carry_the_items_own_id_but_no_other(tenant: Tenant, ids: dict[str, int],
                                                         type_name: str) -> None:
    """Client libraries send the item back with its id, as Clockodo accepts."""
    resource = resources.get(type_name)
    create_body, edit_body = bodies(ids)[type_name]
    item = checked(tenant, "POST", resource.path, create_body).json_body[resource.item_key]
    path = f"{resource.path}/{item['id']}"
    edited = checked(tenant, "PUT", path, {**edit_body, "id": item["id"]})
    assert edited.status_code == 200
    assert all(edited.json_body[resource.item_key][k] == v for k, v in edit_body.items())
    for other in (item["id"] + 1, str(item["id"]), True):
        refused = tenant.call("PUT", path, {**edit_body, "id": other})
        assert refused.status_code == 422, other
        (error,) = refused.json_body["errors"]
        assert (error["type"], error["path"]) == ("ForbiddenValue", "id")
    assert checked(tenant, "GET", path).json_body[resource.item_key]["id"] == item["id"]
