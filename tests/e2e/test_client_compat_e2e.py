"""Existing Clockodo client code works unchanged: what a published client library sends,
replayed through plain HTTP against the local stack. For each of the 14 types one
create, read, list with the client's usual filters, edit and delete, and the routes
beside them it calls (`/v4/users/me`, complete, a change request's approval and
decline). Any 4xx or 5xx fails the test with the answer's body.

The requests are modelled on Peerigon's `clockodo` npm package (github.com/peerigon/clockodo,
`src/clockodo.ts` and `src/lib/api.ts`): axios with the default headers
`X-ClockodoEnableIsoUtcDateTimes: 1`, `Accept-Language` (the configured locale) and
`X-Clockodo-External-Application: <name>;<e-mail>`, credentials as `X-ClockodoApiUser` /
`X-ClockodoApiKey` (here also HTTP Basic, which Clockodo takes too); query parameters
through `qs` in bracket notation, percent-encoded (`filter: {usersId: 1}` →
`filter%5Busers_id%5D=1`, arrays → `filter%5Busers_id%5D%5B%5D=1`, `sort: ["name"]` →
`sort%5B%5D=name`, booleans as `true`), `page` added by its page-walking helpers; edits
PUT the item's `id` with the changed fields; deletes send their parameters, `id`
included, as a JSON body; approve, decline and complete send the remaining parameters.
"""
from __future__ import annotations

from typing import Any

import requests

from chalicelib import resources
from tests.e2e.conftest import ApiUser

#: What the client's axios instance sends on every request.
CLIENT_HEADERS = {"X-ClockodoEnableIsoUtcDateTimes": "1", "Accept-Language": "de",
                  "X-Clockodo-External-Application": "compat-tests;dev@example.com",
                  "Accept": "application/json, text/plain, */*"}
YEAR = 2026
Params = list[tuple[str, str]]


class Client:
    """Plain HTTP as the client library sends it; both ways of authenticating."""

    def __init__(self, company: ApiUser) -> None:
        self.company = company
        self.session = requests.Session()
        self.calls = 0

    def send(self, method: str, path: str, params: Params | None = None,
             body: dict[str, Any] | None = None) -> Any:
        self.calls += 1
        headers = dict(CLIENT_HEADERS)
        auth = None
        if self.calls % 2:  # every other request with HTTP Basic
            auth = (self.company.api_user, self.company.api_key)
        else:
            headers.update({"X-ClockodoApiUser": self.company.api_user,
                            "X-ClockodoApiKey": self.company.api_key})
        response = self.session.request(method, self.company.api + path, params=params,
                                        json=body, headers=headers, auth=auth, timeout=30)
        assert response.status_code < 400, \
            f"{method} {response.url} {body} → {response.status_code}: {response.text[:2000]}"
        return response.json()


def _replays(ids: dict[str, int], me: int) -> dict[str, tuple[
        dict[str, Any], dict[str, Any], Params]]:
    """``type -> (create body, edit body without the id, list query)`` as the client's
    add…, edit… and get… methods send them; ``ids`` holds what was made before."""
    since, until = f"{YEAR}-03-02T08:00:00Z", f"{YEAR}-03-02T09:30:00Z"
    return {
        "team": ({"name": "Compat team"}, {"name": "Compat team 2"},
                 [("filter[fulltext]", "compat"), ("sort[]", "name")]),
        "user": ({"name": "Compat User", "email": "compat.user@example.com",
                  "role": "worker", "teams_id": ids.get("team"), "language": "de"},
                 {"name": "Compat User 2"},
                 [("filter[active]", "true"), ("filter[fulltext]", "Compat"),
                  ("filter[teams_id][]", str(ids.get("team"))), ("sort[]", "name"),
                  ("page", "1")]),
        "customer": ({"name": "Compat customer", "active": True, "billable_default": True},
                     {"name": "Compat customer 2", "color": 2},
                     [("filter[active]", "true"), ("filter[fulltext]", "Compat"),
                      ("sort[]", "-id"), ("page", "1")]),
        "project": ({"name": "Compat project", "customers_id": ids.get("customer"),
                     "budget": {"amount": 10, "monetary": False}},
                    {"deadline": f"{YEAR}-12-24"},
                    [("filter[customers_id]", str(ids.get("customer"))),
                     ("filter[active]", "true"), ("filter[completed]", "false"),
                     ("filter[fulltext]", "Compat"), ("sort[]", "name"), ("page", "1")]),
        "subproject": ({"projects_id": ids.get("project"), "name": "Compat subproject"},
                       {"name": "Compat subproject 2"},
                       [("filter[projects_id]", str(ids.get("project"))),
                        ("filter[active]", "true"), ("filter[completed]", "false"),
                        ("page", "1")]),
        "service": ({"name": "Compat service", "active": True}, {"note": "edited"},
                    [("filter[active]", "true"), ("filter[fulltext]", "Compat"),
                     ("page", "1")]),
        "lump_sum_service": ({"name": "Compat lump sum", "price": 99.5, "unit": "Stk"},
                             {"price": 120},
                             [("filter[active]", "true"), ("filter[fulltext]", "Compat"),
                              ("page", "1")]),
        # no users_id: the client leaves it to the API user's own user
        "absence": ({"date_since": f"{YEAR}-03-02", "date_until": f"{YEAR}-03-03",
                     "type": 1, "note": None},
                    {"note": "two days", "status": 1},
                    [("filter[year][]", str(YEAR)), ("filter[users_id][]", str(me)),
                     ("filter[status][]", "0"), ("filter[status][]", "1"),
                     ("filter[type][]", "1"), ("filter[users_active]", "true")]),
        "holidays_quota": ({"users_id": ids.get("user"), "year_since": YEAR, "count": 25},
                           {"count": 26.5},
                           [("filter[users_id]", str(ids.get("user"))),
                            ("filter[year]", str(YEAR))]),
        "holidays_carry": ({"users_id": ids.get("user"), "year": YEAR, "count": 2},
                           {"count": 3},
                           [("users_id", str(ids.get("user"))), ("year", str(YEAR))]),
        "overtime_carry": ({"users_id": ids.get("user"), "year": YEAR, "hours": 10.5},
                           {"hours": -2},
                           [("users_id", str(ids.get("user"))), ("year", str(YEAR))]),
        "nonbusiness_group": ({"name": "Compat NRW", "preset": ""}, {"name": "Compat NRW 2"},
                              []),
        # Clockodo's document (and so the client) has no read or edit of one change
        # request; this service has both, and they are replayed alike
        "work_time_change_request": (
            {"date": f"{YEAR}-03-02", "users_id": ids.get("user"), "changes": [
                {"type": 1, "time_since": since, "time_until": until}]},
            {"changes": [{"type": 2, "time_since": since, "time_until": until}]},
            [("users_id", str(ids.get("user"))), ("date_since", f"{YEAR}-03-01"),
             ("date_until", f"{YEAR}-03-31"), ("status", "1"), ("page", "1")]),
        # no users_id either
        "entry": ({"customers_id": ids.get("customer"), "projects_id": ids.get("project"),
                   "services_id": ids.get("service"), "billable": 1, "time_since": since,
                   "time_until": until, "text": "compat"},
                  {"text": "compat, edited"},
                  [("time_since", f"{YEAR}-03-01T00:00:00Z"),
                   ("time_until", f"{YEAR}-04-01T00:00:00Z"),
                   ("filter[users_id]", str(me)),
                   ("filter[customers_id]", str(ids.get("customer"))),
                   ("filter[projects_id]", str(ids.get("project"))),
                   ("filter[services_id]", str(ids.get("service"))),
                   ("filter[billable]", "1"), ("filter[text]", "compat"), ("page", "1")]),
    }


ORDER = ("team", "user", "customer", "project", "subproject", "service", "lump_sum_service",
         "absence", "holidays_quota", "holidays_carry", "overtime_carry",
         "nonbusiness_group", "work_time_change_request", "entry")


def test_a_clockodo_client_library_is_refused_nothing(company: ApiUser) -> None:
    client = Client(company)
    # the library's connection test, both ways of authenticating
    me = client.send("GET", "/v4/users/me")["data"]
    assert client.send("GET", "/v4/users/me")["data"] == me
    assert (me["email"], me["role"]) == (company.api_user, "owner")

    ids: dict[str, int] = {}
    for type_name in ORDER:
        resource = resources.get(type_name)
        create, edit, query = _replays(ids, me["id"])[type_name]
        created = client.send("POST", resource.path, body=create)
        item = created[resource.item_key]
        ids[type_name] = item["id"]
        path = f"{resource.path}/{item['id']}"
        assert client.send("GET", path)[resource.item_key]["id"] == item["id"]
        listed = client.send("GET", resource.path, params=query)[resource.list_key]
        assert item["id"] in [found["id"] for found in listed], (type_name, query)
        edited = client.send("PUT", path, body={"id": item["id"], **edit})[resource.item_key]
        assert all(edited[name] == value for name, value in edit.items()
                   if name != "changes"), (type_name, edited)
        if type_name == "absence":  # the client's default user was the API user's own
            assert item["users_id"] == me["id"]
        if type_name == "entry":
            assert item["users_id"] == me["id"]
    assert set(ORDER) == {t.name for t in resources.TYPES}

    _complete(client, ids)
    _approve_and_decline(client, ids)

    for type_name in reversed(ORDER):  # deleteX / withdraw…: the parameters as the body
        resource = resources.get(type_name)
        body = {} if type_name == "work_time_change_request" else {"id": ids[type_name]}
        client.send("DELETE", f"{resource.path}/{ids[type_name]}", body=body)
    assert client.send("GET", "/v4/users/me")["data"]["id"] == me["id"]


def _complete(client: Client, ids: dict[str, int]) -> None:
    """completeProject / completeSubproject: ``{completed}`` without the id."""
    for type_name, path in (("project", "/v4/projects"), ("subproject", "/v3/subprojects")):
        for completed in (True, False):
            answer = client.send("PUT", f"{path}/{ids[type_name]}/complete",
                                 body={"completed": completed})
            assert answer["data"]["completed"] is completed


def _approve_and_decline(client: Client, ids: dict[str, int]) -> None:
    """approveWorkTimesChangeRequest (v3) and declineWorkTimesChangeRequest (v2), with the
    remaining parameters (none) as the body."""
    def new(day: str) -> int:
        created = client.send("POST", "/v2/workTimes/changeRequests", body={
            "date": day, "users_id": ids["user"], "changes": [{
                "type": 1, "time_since": f"{day}T08:00:00Z",
                "time_until": f"{day}T12:00:00Z"}]})
        return int(created["change_request"]["id"])

    approved, declined = new(f"{YEAR}-03-03"), new(f"{YEAR}-03-04")
    assert client.send("POST", f"/v3/workTimes/changeRequests/{approved}/approve",
                       body={}) == {"success": True}
    answer = client.send("POST", f"/v2/workTimes/changeRequests/{declined}/decline", body={})
    assert (answer["id"], answer["status"]) == (declined, 2)
