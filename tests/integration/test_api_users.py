"""API users are users of their company: made with their key, answered at /v4/users/me,
the default user of what they create, and their keys revoked with them, atomically."""
from __future__ import annotations

import base64
from typing import Any

import pytest

from chalicelib import admin, api_users, auth, companies, events, resource_store
from chalicelib.errors import Unprocessable
from local.infra import LocalInfrastructure
from tests.integration.conftest import APPLICATION, Tenant
from tests.integration.test_pipeline import Pipeline


def basic(user: str, key: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{key}".encode()).decode()
    return {"Authorization": f"Basic {token}", "X-Clockodo-External-Application": APPLICATION,
            "Content-Type": "application/json"}


def users(tenant: Tenant) -> list[dict[str, Any]]:
    return list(tenant.call("GET", "/v3/users").json_body["data"])


def second_api_user(tenant: Tenant, email: str = "colleague@example.com") -> Tenant:
    issued = admin.issue_key(tenant.company_id, email)
    return Tenant(tenant.client, tenant.company_id, issued["api_user"], issued["api_key"])


def test_a_new_company_has_its_owner_as_a_user_and_me_answers_it(tenant: Tenant) -> None:
    (owner,) = users(tenant)
    assert (owner["email"], owner["role"], owner["name"]) == \
        (tenant.api_user, "owner", "acme-enterprise")
    assert tenant.call("GET", "/v4/users/me").json_body == {"data": owner}
    assert tenant.call("GET", "/v4/users/me",
                       headers=basic(tenant.api_user, tenant.api_key)).json_body == \
        {"data": owner}
    assert tenant.call("GET", "/v4/users/me?bogus=1").status_code == 400


def test_issuing_a_key_for_a_new_email_makes_its_user(tenant: Tenant) -> None:
    colleague = second_api_user(tenant, "Colleague@Example.com")
    mine = colleague.call("GET", "/v4/users/me").json_body["data"]
    assert (mine["email"], mine["role"], mine["name"]) == \
        ("colleague@example.com", "worker", "colleague")
    again = admin.issue_key(tenant.company_id, "colleague@example.com", role="owner")
    assert again["users_id"] == mine["id"]  # the e-mail's user exists: no second one
    boss = admin.issue_key(tenant.company_id, "boss@example.com", role="owner",
                           user_name="The Boss")
    shown = tenant.call("GET", f"/v3/users/{boss['users_id']}").json_body["data"]
    assert (shown["role"], shown["name"]) == ("owner", "The Boss")
    assert len(users(tenant)) == 3
    with pytest.raises(Unprocessable, match="role"):
        admin.issue_key(tenant.company_id, "x@example.com", role="admin")
    assert len(users(tenant)) == 3


def test_a_key_issued_before_users_were_kept_gets_its_user_on_first_need(
        tenant: Tenant) -> None:
    company = companies.create("Old GmbH", "pro")  # as older versions made a company
    legacy = auth.issue_key(company.company_id, "old@example.com")
    old = Tenant(tenant.client, company.company_id, legacy.api_user, legacy.api_key)
    assert users(old) == []
    me = old.call("GET", "/v4/users/me").json_body["data"]
    assert (me["email"], me["role"]) == ("old@example.com", "owner")
    assert old.call("GET", "/v4/users/me").json_body["data"] == me  # made once
    other = auth.issue_key(company.company_id, "later@example.com")
    later = Tenant(tenant.client, company.company_id, other.api_user, other.api_key)
    absence = later.call("POST", "/v4/absences", {"date_since": "2026-03-02", "type": 1})
    made = later.call("GET", f"/v3/users/{absence.json_body['data']['users_id']}")
    assert (made.json_body["data"]["email"], made.json_body["data"]["role"]) == \
        ("later@example.com", "worker")


def test_an_email_names_one_user_of_a_company(tenant: Tenant, other_tenant: Tenant) -> None:
    body = {"email": "Dup@Example.com", "name": "Dup", "role": "worker"}
    first = tenant.call("POST", "/v3/users", body).json_body["data"]
    for method, path, sent in (("POST", "/v3/users", {**body, "email": "dup@example.com"}),
                               ("POST", "/v3/users", {**body, "email": tenant.api_user}),
                               ("PUT", f"/v3/users/{first['id']}",
                                {"email": tenant.api_user})):
        refused = tenant.call(method, path, sent)
        assert refused.status_code == 422, refused.json_body
        assert refused.json_body["errors"][0]["type"] == "EmailNotAvailable"
    assert tenant.call("PUT", f"/v3/users/{first['id']}",
                       {"email": "dup@example.com", "id": first["id"]}).status_code == 200
    assert other_tenant.call("POST", "/v3/users", body).status_code == 200  # another company


def test_an_api_users_email_cannot_be_changed(tenant: Tenant) -> None:
    colleague = second_api_user(tenant)
    mine = colleague.call("GET", "/v4/users/me").json_body["data"]
    refused = tenant.call("PUT", f"/v3/users/{mine['id']}", {"email": "new@example.com"})
    assert (refused.status_code, refused.json_body["errors"][0]["type"]) == \
        (422, "MailCannotBeChanged")
    assert colleague.call("GET", "/v4/users/me").json_body["data"] == mine
    renamed = tenant.call("PUT", f"/v3/users/{mine['id']}", {"name": "Col League"})
    assert renamed.json_body["data"]["name"] == "Col League"


def test_deleting_a_user_revokes_their_keys(tenant: Tenant, other_tenant: Tenant) -> None:
    colleague = second_api_user(tenant)
    second_key = admin.issue_key(tenant.company_id, colleague.api_user)["api_key"]
    mine = colleague.call("GET", "/v4/users/me").json_body["data"]
    assert other_tenant.call("DELETE", f"/v3/users/{mine['id']}").status_code == 404
    dry = tenant.call("DELETE", f"/v3/users/{mine['id']}?dry_run=true")
    assert (dry.status_code, colleague.call("GET", "/v4/users/me").status_code) == (200, 200)

    assert tenant.call("DELETE", f"/v3/users/{mine['id']}").json_body == {"success": True}
    for key in (colleague.api_key, second_key):
        gone = tenant.call("GET", "/v4/users/me",
                           headers={**colleague.headers(), "X-ClockodoApiKey": key})
        assert gone.status_code == 401
    assert auth.keys_in(tenant.company_id, colleague.api_user) == []
    assert tenant.call("GET", "/v4/users/me").status_code == 200  # others keep theirs


def test_nobody_deletes_their_own_user(tenant: Tenant) -> None:
    me = tenant.call("GET", "/v4/users/me").json_body["data"]
    for query in ("", "?dry_run=true"):
        refused = tenant.call("DELETE", f"/v3/users/{me['id']}{query}")
        assert (refused.status_code, refused.json_body["errors"][0]["type"]) == \
            (422, "UserCannotDeleteThemselves")
    assert tenant.call("GET", "/v4/users/me").json_body["data"] == me


def test_a_user_and_their_keys_go_together_or_not_at_all(
        tenant: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    colleague = second_api_user(tenant)
    mine = colleague.call("GET", "/v4/users/me").json_body["data"]
    path = f"/v3/users/{mine['id']}"

    # a key revoked meanwhile: its condition fails, so the user stays and so does the
    # other key
    real = auth.keys_in
    monkeypatch.setattr(auth, "keys_in", lambda company_id, email: [
        *real(company_id, email), {"api_user": colleague.api_user, "key_id": "k-revoked"}])
    collided = tenant.call("DELETE", path)
    assert (collided.status_code, collided.json_body["errors"][0]["type"]) == \
        (409, "ResourceChanged")
    assert tenant.call("GET", path).status_code == 200
    assert colleague.call("GET", "/v4/users/me").status_code == 200
    monkeypatch.setattr(auth, "keys_in", real)

    # the user deleted meanwhile: the user's condition fails, so the keys stay
    revocations = api_users.revocations

    def then_deleted_meanwhile(caller: Any, resource_id: int) -> list[dict[str, Any]]:
        found = revocations(caller, resource_id)
        resource_store.delete(tenant.company_id, api_users.USER, resource_id)
        return found

    monkeypatch.setattr(api_users, "revocations", then_deleted_meanwhile)
    assert tenant.call("DELETE", path).status_code == 404
    assert colleague.call("GET", "/v4/users/me").status_code == 200  # made again, key kept
    assert auth.keys_in(tenant.company_id, colleague.api_user) != []


def test_a_change_request_is_declined_or_approved_once(
        tenant: Tenant, other_tenant: Tenant, aws_backend: LocalInfrastructure) -> None:
    pipeline = Pipeline(aws_backend, tenant.client)
    me = tenant.call("GET", "/v4/users/me").json_body["data"]
    body = {"date": "2026-03-02", "users_id": me["id"], "changes": [
        {"type": 1, "time_since": "2026-03-02T08:00:00Z", "time_until": "2026-03-02T12:00:00Z"}]}

    def change_request() -> int:
        created = tenant.call("POST", "/v2/workTimes/changeRequests", body).json_body
        return int(created["change_request"]["id"])

    declined_id, approved_id, old_approve_id = change_request(), change_request(), \
        change_request()
    base = "/v2/workTimes/changeRequests"
    assert other_tenant.call("POST", f"{base}/{declined_id}/decline").status_code == 404
    declined = tenant.call("POST", f"{base}/{declined_id}/decline", b"").json_body
    assert (declined["id"], declined["status"], declined["declined_by"]) == \
        (declined_id, 2, me["id"])
    assert declined["declined_at"].endswith("Z")
    assert tenant.call("GET", f"{base}/{declined_id}").json_body["change_request"] == declined
    for action in ("decline", "approve"):
        refused = tenant.call("POST", f"{base}/{declined_id}/{action}", {})
        assert (refused.status_code, refused.json_body["errors"][0]["type"]) == \
            (409, "StatusIsForbidden")

    v3 = f"/v3/workTimes/changeRequests/{approved_id}/approve"
    for bad, kind in (({"approve_violations": "yes"}, "UnexpectedValue"),
                      ({"approve": True}, "UnknownField")):
        refused = tenant.call("POST", v3, bad)
        assert (refused.status_code, refused.json_body["errors"][0]["type"]) == (422, kind)
    assert tenant.call("POST", v3, {"approve_violations": True}).json_body == \
        {"success": True}
    assert tenant.call("GET", f"{base}/{approved_id}").status_code == 404
    assert tenant.call("POST", v3, {}).status_code == 404
    assert tenant.call("POST", f"{base}/{old_approve_id}/approve", {}).json_body == \
        {"change_request": None}

    changes = {(c.event_name, c.resource_id)
               for record in pipeline.stream_records() for c in events.derive(record)}
    assert {("work_time_change_request.updated", declined_id),
            ("work_time_change_request.deleted", approved_id),
            ("work_time_change_request.deleted", old_approve_id)} <= changes
    assert ("work_time_change_request.deleted", declined_id) not in changes


def test_customers_count_their_active_and_inactive_projects(tenant: Tenant,
                                                            other_tenant: Tenant) -> None:
    def create(path: str, body: dict[str, Any]) -> int:
        return int(tenant.call("POST", path, body).json_body["data"]["id"])

    busy, idle = create("/v3/customers", {"name": "Busy"}), create("/v3/customers",
                                                                   {"name": "Idle"})
    for active in (True, True, False):
        create("/v4/projects", {"name": "P", "customers_id": busy, "active": active})
    counted = tenant.call("GET", "/v3/customers/countProjects").json_body
    assert counted["data"] == [{"customers_id": busy, "active": 2, "inactive": 1},
                               {"customers_id": idle, "active": 0, "inactive": 0}]
    assert counted["paging"]["count_items"] == 2
    only = tenant.call("GET", f"/v3/customers/countProjects?customers_id[]={idle}"
                              "&scope=manageAccess").json_body["data"]
    assert only == [{"customers_id": idle, "active": 0, "inactive": 0}]
    assert other_tenant.call("GET", "/v3/customers/countProjects").json_body["data"] == []
    assert tenant.call("GET", "/v3/customers/countProjects?customers_id=x").status_code == 400
