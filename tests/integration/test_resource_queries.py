"""Clockodo's query parameters on the resource routes: filters, sorts, scopes, required
parameters, per-type page sizes, dry_run, and 400 for anything unknown on every route."""
from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest

from chalicelib import resource_query, resources
from tests.integration.conftest import Tenant
from tests.openapi_check import assert_conforms
from tests.resource_samples import PREREQUISITES, bodies, create_prerequisites, list_path


def create(tenant: Tenant, type_name: str, body: dict[str, Any]) -> int:
    resource = resources.get(type_name)
    response = tenant.call("POST", resource.path, body)
    assert response.status_code == 200, response.json_body
    return int(response.json_body[resource.item_key]["id"])


def listed(tenant: Tenant, path: str, status: int = 200) -> Any:
    response = tenant.call("GET", path)
    assert response.status_code == status, response.json_body
    assert_conforms("GET", path, response.status_code, response.json_body)
    return response.json_body


def names(body: dict[str, Any], key: str = "data") -> list[str]:
    return [item["name"] for item in body[key]]


@pytest.fixture
def ids(tenant: Tenant) -> dict[str, int]:
    return create_prerequisites(lambda name, body: create(tenant, name, body))


def test_master_data_filters_and_sorts(tenant: Tenant) -> None:
    for name, active in (("Beta", True), ("alpha", False), ("Gamma", True)):
        create(tenant, "customer", {"name": name, "active": active, "number": f"N-{name}"})
    assert names(listed(tenant, "/v3/customers?filter[active]=true")) == ["Beta", "Gamma"]
    assert names(listed(tenant, "/v3/customers?filter[active]=false")) == ["alpha"]
    assert names(listed(tenant, "/v3/customers?filter[fulltext]=AMM")) == ["Gamma"]
    assert names(listed(tenant, "/v3/customers?sort=name")) == ["alpha", "Beta", "Gamma"]
    assert names(listed(tenant, "/v3/customers?sort=-name")) == ["Gamma", "Beta", "alpha"]
    assert names(listed(tenant, "/v3/customers?sort[]=-active&sort[]=-id")) == \
        ["Gamma", "Beta", "alpha"]
    assert names(listed(tenant, "/v3/customers?sort=active,name")) == \
        ["alpha", "Beta", "Gamma"]
    # accepted, no effect: an API key acts for the whole company
    assert len(listed(tenant, "/v3/customers?scope=manageAccess")["data"]) == 3
    for bad in ("filter[active]=maybe", "sort=colour", "scope=everything", "page=0",
                "filter[colour]=1", "items_per_page=5001"):
        error = listed(tenant, f"/v3/customers?{bad}", 400)["errors"][0]
        assert error["path"] == bad.partition("=")[0]


def test_projects_and_subprojects_filter_by_parent_and_completion(tenant: Tenant,
                                                                  ids: dict[str, int]) -> None:
    other = create(tenant, "customer", {"name": "Other"})
    second = create(tenant, "project", {"name": "Second", "customers_id": other})
    tenant.call("PUT", f"/v4/projects/{second}/complete", {"completed": True})
    assert names(listed(tenant, f"/v4/projects?filter[customers_id]={other}")) == ["Second"]
    assert names(listed(tenant, "/v4/projects?filter[completed]=false")) == ["Website"]
    create(tenant, "subproject", {"name": "A", "projects_id": second})
    create(tenant, "subproject", {"name": "B", "projects_id": ids["project"]})
    assert names(listed(tenant, f"/v3/subprojects?filter[projects_id]={second}")) == ["A"]


def test_page_sizes_are_clockodos_per_type(tenant: Tenant) -> None:
    assert listed(tenant, "/v3/customers?items_per_page=5000")["paging"][
        "items_per_page"] == 5000
    assert listed(tenant, "/v3/users?items_per_page=1001", 400)["errors"][0]["details"] == \
        {"min": 1, "max": 1000}
    limits = {t.name: t.max_items_per_page for t in resources.TYPES if t.paged}
    assert limits == {"user": 1000, "customer": 5000, "project": 5000, "subproject": 5000,
                      "service": 5000, "lump_sum_service": 5000, "team": 1000,
                      "work_time_change_request": 1000, "entry": 1000}


def test_entries_need_a_time_range_and_filter(tenant: Tenant, ids: dict[str, int]) -> None:
    base = {"customers_id": ids["customer"], "services_id": ids["service"], "billable": 1,
            "users_id": ids["user"]}
    march = create(tenant, "entry", {**base, "time_since": "2026-03-02T08:00:00Z",
                                     "time_until": "2026-03-02T09:00:00Z", "text": "Call"})
    running = create(tenant, "entry", {**base, "billable": 0,
                                       "time_since": "2026-04-01T08:00:00Z"})
    for query in ("", "?time_since=2026-01-01T00:00:00Z",
                  "?time_until=2026-01-01T00:00:00Z"):
        error = listed(tenant, f"/v2/entries{query}", 400)["errors"][0]
        assert error["type"] == "MissingParameter"

    def entries(query: str) -> list[int]:
        return [e["id"] for e in listed(tenant, "/v2/entries?" + query)["entries"]]

    since = quote("2026-03-02T08:30:00+00:00")
    assert entries(f"time_since={since}&time_until=2026-03-31T00:00:00Z") == [march]
    assert entries("time_since=2026-03-03T00:00:00Z&time_until=2026-12-01T00:00:00Z") == \
        [running]  # running entries have no end yet
    year = "time_since=2026-01-01T00:00:00Z&time_until=2027-01-01T00:00:00Z"
    assert entries(year) == [march, running]
    assert entries(f"{year}&filter[billable]=0") == [running]
    assert entries(f"{year}&filter[billable]=12") == [march]
    assert entries(f"{year}&filter[text]=call") == [march]
    assert entries(f"{year}&filter[customers_id]={ids['customer']}&enhanced_list=true") == \
        [march, running]
    assert entries(f"{year}&filter[projects_id]=0") == [march, running]  # 0: no project
    assert listed(tenant, f"/v2/entries?{year}&filter[billable]=3", 400)


def test_holiday_and_overtime_types_filter_by_user_and_year(tenant: Tenant,
                                                            ids: dict[str, int]) -> None:
    other = create(tenant, "user", {"email": "o@example.com", "name": "O", "role": "worker"})
    create(tenant, "holidays_quota", {"users_id": ids["user"], "year_since": 2024,
                                      "year_until": 2025, "count": 20})
    create(tenant, "holidays_quota", {"users_id": other, "year_since": 2026, "count": 30})
    counts = {query: [q["count"] for q in listed(tenant, f"/v2/holidaysQuota?{query}")["data"]]
              for query in ("year=2025", "year=2030", "filter[year]=2023",
                            f"users_id={other}", f"filter[users_id]={ids['user']}")}
    assert counts == {"year=2025": [20], "year=2030": [30], "filter[year]=2023": [],
                      f"users_id={other}": [30], f"filter[users_id]={ids['user']}": [20]}
    create(tenant, "overtime_carry", {"users_id": other, "year": 2026, "hours": 3})
    assert listed(tenant, "/v3/overtimeCarry?year=2025")["data"] == []
    assert len(listed(tenant, f"/v3/overtimeCarry?year=2026&users_id={other}")["data"]) == 1
    assert listed(tenant, "/v3/holidaysCarry?year=1999", 400)


def test_absences_and_change_requests_filter(tenant: Tenant, ids: dict[str, int]) -> None:
    create(tenant, "absence", {"date_since": "2026-03-02", "type": 1, "users_id": ids["user"]})
    create(tenant, "absence", {"date_since": "2025-12-30", "date_until": "2026-01-02",
                               "type": 2, "users_id": ids["user"], "status": 1})

    def types(query: str) -> list[int]:
        return [a["type"] for a in listed(tenant, f"/v4/absences?{query}")["data"]]

    assert types("filter[type]=1,2") == [1, 2]
    assert types("filter[status][]=1") == [2]
    assert types("filter[year]=2025") == [2]
    assert types("filter[year]=2026&scope=viewableAbsences&filter[users_active]=true") == [1, 2]
    change = bodies(ids)["work_time_change_request"][0]
    create(tenant, "work_time_change_request", change)
    path = "/v2/workTimes/changeRequests"
    assert len(listed(tenant, f"{path}?date_since=2026-03-01&date_until=2026-03-02&status=1"
                      f"&users_id={ids['user']}&sort=-date&scope=approve")[
        "change_requests"]) == 1
    assert listed(tenant, f"{path}?date_since=2026-03-03")["change_requests"] == []
    assert listed(tenant, f"{path}?status=2")["change_requests"] == []


def test_users_filter_by_team(tenant: Tenant, ids: dict[str, int]) -> None:
    team = create(tenant, "team", {"name": "Blue"})
    create(tenant, "user", {"email": "t@example.com", "name": "Teamed", "role": "worker",
                            "teams_id": team})
    me = tenant.call("GET", "/v4/users/me").json_body["data"]["name"]  # the API user's
    assert names(listed(tenant, f"/v3/users?filter[teams_id]={team}")) == ["Teamed"]
    assert names(listed(tenant, "/v3/users?filter[teams_id]=0&sort=-name")) == ["Wendy", me]
    assert listed(tenant, f"/v3/users/{ids['user']}?scope=viewAbsences")["data"]["name"] == \
        "Wendy"


@pytest.mark.parametrize("type_name", [t.name for t in resources.TYPES])
def test_unknown_parameters_are_400_on_every_route(tenant: Tenant, ids: dict[str, int],
                                                   type_name: str) -> None:
    resource = resources.get(type_name)
    create_body, edit_body = bodies(ids)[type_name]
    item_id = create(tenant, type_name, create_body)
    item = f"{resource.path}/{item_id}"
    before = tenant.call("GET", item).json_body
    listing = list_path(type_name, resource.path)
    calls = [("GET", listing + ("&" if "?" in listing else "?"), None),
             ("POST", resource.path + "?", create_body), ("GET", item + "?", None),
             ("PUT", item + "?", edit_body), ("DELETE", item + "?", None)]
    if resource.completable:
        calls.append(("PUT", item + "/complete?", {"completed": True}))
    for method, path, body in calls:
        response = tenant.call(method, path + "bogus=1", body)
        assert response.status_code == 400, (method, path, response.json_body)
        assert response.json_body["errors"][0]["type"] == "UnknownParameter"
    assert tenant.call("GET", item).json_body == before  # nothing changed, nothing deleted
    count = len(tenant.call("GET", listing).json_body[resource.list_key])
    # nothing created either (beside the sample: a prerequisite, and the API user's user)
    assert count == 1 + (type_name in PREREQUISITES) + (type_name == "user")


@pytest.mark.parametrize("type_name", [t.name for t in resources.TYPES if t.delete_params])
def test_dry_run_deletes_nothing(tenant: Tenant, ids: dict[str, int], type_name: str) -> None:
    resource = resources.get(type_name)
    item_id = create(tenant, type_name, bodies(ids)[type_name][0])
    path = f"{resource.path}/{item_id}"
    for query in ("?dry_run=true", "?dry_run=true&force=true"):
        response = tenant.call("DELETE", path + query)
        assert (response.status_code, response.json_body) == (200, {"success": True})
        assert tenant.call("GET", path).status_code == 200
    assert tenant.call("DELETE", f"{resource.path}/999999?dry_run=true").status_code == 404
    assert tenant.call("DELETE", path + "?dry_run=false&force=true").status_code == 200
    assert tenant.call("GET", path).status_code == 404


def test_every_list_parameter_is_documented() -> None:
    from chalicelib import openapi

    for resource in resources.TYPES:
        documented = {p["name"] for p in openapi.document()["paths"][resource.path]["get"][
            "parameters"]}
        assert documented == {p.name for p in resource_query.list_params(resource)}


@pytest.mark.parametrize(("method", "path"), [
    ("GET", "/v2/webhooks/events"), ("POST", "/v2/webhooks"), ("GET", "/v2/webhooks/1"),
    ("PUT", "/v2/webhooks/1"), ("DELETE", "/v2/webhooks/1"),
    ("POST", "/v2/webhooks/1/validate"), ("POST", "/v2/webhooks/1/verify"),
    ("GET", "/v2/webhooks/1/secret"), ("POST", "/v2/webhooks/1/secret/rotate"),
    ("POST", "/v2/webhooks/1/recover"), ("GET", "/v2/webhooks/1/deliveries/msg_1"),
    ("POST", "/v2/webhooks/1/deliveries/msg_1/redeliver"),
])
def test_unknown_parameters_are_400_on_the_webhook_routes_too(tenant: Tenant, method: str,
                                                              path: str) -> None:
    response = tenant.call(method, path + "?dry_run=true", {})
    assert response.status_code == 400, response.json_body
    assert response.json_body["errors"][0] == {
        "type": "UnknownParameter", "path": "dry_run", "details": None,
        "message": response.json_body["errors"][0]["message"]}


def test_team_and_active_user_filters_and_the_team_name_sort(tenant: Tenant,
                                                             ids: dict[str, int]) -> None:
    blue = create(tenant, "team", {"name": "Blue"})
    amber = create(tenant, "team", {"name": "Amber"})
    in_blue = create(tenant, "user", {"email": "b@example.com", "name": "Bea", "role": "worker",
                                      "teams_id": blue})
    create(tenant, "user", {"email": "a@example.com", "name": "Al", "role": "worker",
                            "teams_id": amber, "active": False})
    for user in (ids["user"], in_blue):
        create(tenant, "absence", {"date_since": "2026-03-02", "type": 1, "users_id": user})
        create(tenant, "work_time_change_request",
               {**bodies(ids)["work_time_change_request"][0], "users_id": user})

    def users_of(path: str, key: str = "data") -> list[int]:
        return [item["users_id"] for item in listed(tenant, path)[key]]

    assert users_of(f"/v4/absences?filter[teams_id]={blue}") == [in_blue]
    assert users_of(f"/v4/absences?filter[teams_id]={amber}") == []
    tenant.call("PUT", f"/v3/users/{in_blue}", {"active": False})
    assert users_of("/v4/absences?filter[users_active]=false") == [in_blue]
    assert users_of("/v4/absences?filter[users_active]=true") == [ids["user"]]
    changes = "/v2/workTimes/changeRequests?teams_id="
    assert users_of(f"{changes}0", "change_requests") == [ids["user"]]  # 0: in no team
    assert users_of(f"{changes}{blue},{amber}", "change_requests") == [in_blue]
    me = tenant.call("GET", "/v4/users/me").json_body["data"]["name"]  # in no team either
    assert names(listed(tenant, "/v3/users?sort=teams_name,name")) == \
        [me, "Wendy", "Al", "Bea"]
    assert names(listed(tenant, "/v3/users?sort=-teams_name")) == ["Bea", "Al", me, "Wendy"]
