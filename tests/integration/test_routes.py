"""The webhook routes through Chalice's test client, against moto."""
from __future__ import annotations

import base64
from typing import Any

import pytest

from chalicelib import subscriptions
from tests.integration.conftest import APPLICATION, Tenant, make_tenant
from tests.receivers import Receiver


def error_of(response: Any) -> dict[str, Any]:
    body = response.json_body
    assert set(body) == {"errors"}, body
    (error,) = body["errors"]
    assert set(error) == {"type", "message", "path", "details"}
    return error


def create(tenant: Tenant, url: str, event: str = "customer.created",
           token: str = "tok-1") -> Any:
    return tenant.call("POST", "/v2/webhooks", {"event_name": event, "url": url,
                                                "token": token})


def test_missing_application_header_is_a_400_naming_it(tenant: Tenant) -> None:
    headers = tenant.headers()
    del headers["X-Clockodo-External-Application"]
    response = tenant.call("GET", "/v2/webhooks", headers=headers)
    assert response.status_code == 400
    error = error_of(response)
    assert error["type"] == "MissingExternalApplication"
    assert "X-Clockodo-External-Application" in error["message"]


@pytest.mark.parametrize("headers", [
    {},
    {"X-ClockodoApiUser": "acme-enterprise@example.com", "X-ClockodoApiKey": "wrong"},
    {"X-ClockodoApiUser": "nobody@example.com", "X-ClockodoApiKey": "wrong"},
])
def test_missing_or_wrong_credentials_are_401(tenant: Tenant, headers: dict[str, str]) -> None:
    response = tenant.call("GET", "/v2/webhooks", headers={
        "X-Clockodo-External-Application": APPLICATION, **headers})
    assert response.status_code == 401
    assert error_of(response)["type"] == "Unauthenticated"


def test_basic_auth_works(tenant: Tenant) -> None:
    token = base64.b64encode(f"{tenant.api_user}:{tenant.api_key}".encode()).decode()
    response = tenant.call("GET", "/v2/webhooks", headers={
        "Authorization": f"Basic {token}", "X-Clockodo-External-Application": APPLICATION})
    assert response.status_code == 200


def test_openapi_is_public(tenant: Tenant) -> None:
    response = tenant.call("GET", "/v2/openapi.json", headers={})
    assert response.status_code == 200
    assert response.json_body["openapi"].startswith("3.1")


def test_create_get_list_delete(tenant: Tenant, receiver: Receiver) -> None:
    created = create(tenant, receiver.url + "/hook")
    assert created.status_code == 201
    webhook = created.json_body["data"]
    assert webhook["status"] == "pending_validation"
    assert webhook["event_name"] == "customer.created"
    assert webhook["token"] == "tok-1"
    assert webhook["validated_at"] is None
    assert receiver.requests == []  # creating sends nothing; validating does

    fetched = tenant.call("GET", f"/v2/webhooks/{webhook['id']}")
    assert fetched.json_body["data"] == webhook
    listed = tenant.call("GET", "/v2/webhooks").json_body
    assert listed["data"] == [webhook]
    assert listed["paging"] == {"items_per_page": 100, "next_cursor": None}

    deleted = tenant.call("DELETE", f"/v2/webhooks/{webhook['id']}")
    assert deleted.status_code == 200
    assert deleted.json_body == {"success": True}
    assert tenant.call("GET", f"/v2/webhooks/{webhook['id']}").status_code == 404
    assert tenant.call("DELETE", f"/v2/webhooks/{webhook['id']}").status_code == 404


def test_list_filters_and_pages(tenant: Tenant, receiver: Receiver) -> None:
    for index, event in enumerate(["customer.created", "customer.deleted", "team.updated"]):
        assert create(tenant, receiver.url, event, f"t{index}").status_code == 201
    page = tenant.call("GET", "/v2/webhooks?filter%5Bevent_name%5D=team.updated").json_body
    assert [w["event_name"] for w in page["data"]] == ["team.updated"]
    pending = tenant.call("GET", "/v2/webhooks?filter%5Bstatus%5D=active").json_body
    assert pending["data"] == []
    first = tenant.call("GET", "/v2/webhooks?items_per_page=2").json_body
    assert [w["token"] for w in first["data"]] == ["t0", "t1"]
    cursor = first["paging"]["next_cursor"]
    second = tenant.call("GET", f"/v2/webhooks?items_per_page=2&cursor={cursor}").json_body
    assert second["paging"] == {"items_per_page": 2, "next_cursor": None}
    assert [w["token"] for w in second["data"]] == ["t2"]
    # a filtered page reads on until it is full, and goes on where it stopped
    one = tenant.call("GET", "/v2/webhooks?items_per_page=1&filter%5Bstatus%5D="
                      "pending_validation").json_body
    rest = tenant.call("GET", "/v2/webhooks?items_per_page=5&filter%5Bstatus%5D="
                       f"pending_validation&cursor={one['paging']['next_cursor']}").json_body
    assert [w["token"] for w in one["data"] + rest["data"]] == ["t0", "t1", "t2"]
    for forged in ("abc", "djE6eA", "%00", "djE6MTIzNDU2Nzg5MDEyMzQ1Njc4OQ"):
        refused = tenant.call("GET", f"/v2/webhooks?cursor={forged}")
        assert refused.status_code == 400, forged
        assert refused.json_body["errors"][0]["path"] == "cursor"
    bad = tenant.call("GET", "/v2/webhooks?filter%5Bstatus%5D=sleeping")
    assert bad.status_code == 422
    assert tenant.call("GET", "/v2/webhooks?sort=id").status_code == 400
    assert tenant.call("GET", "/v2/webhooks?page=2").status_code == 400  # cursors, not pages


@pytest.mark.parametrize(("body", "status", "type_", "path"), [
    (b"{", 400, "InvalidJson", "body"),
    (b"[]", 400, "InvalidJson", "body"),
    (b"", 400, "InvalidJson", "body"),
    ({"event_name": "customer.created", "url": "http://127.0.0.1/", "token": "t",
      "extra": 1}, 422, "UnknownField", "extra"),
    ({"event_name": "customer.exploded", "url": "http://127.0.0.1/", "token": "t"},
     422, "UnexpectedValue", "event_name"),
    ({"event_name": 7, "url": "http://127.0.0.1/", "token": "t"},
     422, "UnexpectedValue", "event_name"),
    ({"url": "http://127.0.0.1/", "token": "t"}, 422, "Empty", "event_name"),
    ({"event_name": "customer.created", "url": "http://127.0.0.1/"}, 422, "Empty", "token"),
    ({"event_name": "customer.created", "url": "http://127.0.0.1/", "token": "x" * 256},
     422, "NotBetween", "token"),
    ({"event_name": "customer.created", "url": "http://127.0.0.1/", "token": "a\nb"},
     422, "UnexpectedValue", "token"),
    ({"event_name": "customer.created", "url": "http://10.0.0.1/", "token": "t"},
     422, "UrlNotAllowed", "url"),
    ({"event_name": "customer.created", "url": "http://169.254.169.254/latest/meta-data",
      "token": "t"}, 422, "UrlNotAllowed", "url"),
    ({"event_name": "customer.created", "url": "http://2130706433/", "token": "t"},
     422, "UrlNotAllowed", "url"),
    ({"event_name": "customer.created", "url": "file:///etc/passwd", "token": "t"},
     422, "UrlNotAllowed", "url"),
    ({"event_name": "customer.created", "url": ["http://127.0.0.1/"], "token": "t"},
     422, "UnexpectedValue", "url"),
])
def test_bad_create_input_changes_nothing(tenant: Tenant, body: Any, status: int, type_: str,
                                          path: str) -> None:
    response = tenant.call("POST", "/v2/webhooks", body)
    assert response.status_code == status, response.json_body
    error = error_of(response)
    assert (error["type"], error["path"]) == (type_, path)
    assert tenant.call("GET", "/v2/webhooks").json_body["data"] == []
    events = tenant.call("GET", "/v2/webhooks/events").json_body["data"]
    assert all(row["used"] == 0 for row in events)


def test_oversized_and_non_json_bodies(tenant: Tenant) -> None:
    huge = b'{"token": "' + b"x" * 70000 + b'"}'
    assert error_of(tenant.call("POST", "/v2/webhooks", huge))["type"] == "PayloadTooLarge"
    response = tenant.call("POST", "/v2/webhooks", b"a=b",
                           headers=tenant.headers(**{"Content-Type": "text/plain"}))
    assert response.status_code == 415
    assert error_of(response)["type"] == "UnsupportedMediaType"


@pytest.mark.parametrize("path", ["/v2/webhooks/abc", "/v2/webhooks/0", "/v2/webhooks/-3",
                                  "/v2/webhooks/1e3", "/v2/webhooks/99999999999999999999"])
def test_non_numeric_ids_are_404_in_the_error_format(tenant: Tenant, path: str) -> None:
    for method in ("GET", "DELETE"):
        response = tenant.call(method, path)
        assert response.status_code == 404
        assert error_of(response)["type"] == "ResourceNotFound"


def test_wrong_method_is_405_in_the_error_format(tenant: Tenant) -> None:
    response = tenant.call("PATCH", "/v2/webhooks/1")
    assert response.status_code == 405
    assert error_of(response)["type"] == "MethodNotAllowed"


def test_limit_per_type_and_delete_frees_a_slot(client, receiver: Receiver) -> None:
    basic = make_tenant(client, plan="basic")
    first = create(basic, receiver.url, "customer.created", "a").json_body["data"]
    assert create(basic, receiver.url, "customer.updated", "b").status_code == 201
    refused = create(basic, receiver.url, "customer.deleted", "c")
    assert refused.status_code == 403
    assert error_of(refused)["type"] == "MaxWebhooksOfPlanTypeReached"
    assert error_of(refused)["details"]["limit"] == 2
    assert create(basic, receiver.url, "team.created", "d").status_code == 201  # another type
    events = {r["type"]: r for r in basic.call("GET", "/v2/webhooks/events").json_body["data"]}
    assert (events["customer"]["used"], events["customer"]["remaining"]) == (2, 0)
    assert basic.call("DELETE", f"/v2/webhooks/{first['id']}").status_code == 200
    assert create(basic, receiver.url, "customer.deleted", "c").status_code == 201


def test_budget_notification_needs_trial_or_enterprise(client, receiver: Receiver) -> None:
    pro = make_tenant(client, plan="pro")
    refused = create(pro, receiver.url, "project.budget_notification")
    assert refused.status_code == 403
    assert error_of(refused)["type"] == "EventNotInPlan"
    trial = make_tenant(client, plan="trial", name="Tryout")
    assert create(trial, receiver.url, "project.budget_notification").status_code == 201


def test_duplicate_tokens_are_409_within_a_company_only(tenant: Tenant, other_tenant: Tenant,
                                                        receiver: Receiver) -> None:
    assert create(tenant, receiver.url, token="same").status_code == 201
    duplicate = create(tenant, receiver.url, "team.created", token="same")
    assert duplicate.status_code == 409
    assert error_of(duplicate)["type"] == "TokenNotAvailable"
    assert create(other_tenant, receiver.url, token="same").status_code == 201
    events = {r["type"]: r for r in tenant.call("GET", "/v2/webhooks/events").json_body["data"]}
    assert events["team"]["used"] == 0  # the refused create took no slot


def test_edit_event_and_token_keeps_status_but_a_new_url_needs_validation(
        tenant: Tenant, receiver: Receiver) -> None:
    webhook = create(tenant, receiver.url + "/a").json_body["data"]
    active = activate(tenant, webhook["id"], receiver)
    assert active["status"] == "active"

    edited = tenant.call("PUT", f"/v2/webhooks/{webhook['id']}",
                         {"event_name": "customer.updated", "token": "tok-2"})
    assert edited.status_code == 200
    data = edited.json_body["data"]
    assert (data["event_name"], data["token"], data["status"]) == \
        ("customer.updated", "tok-2", "active")
    assert data["validated_at"] == active["validated_at"]
    # the old token is free again, the new one is taken
    assert create(tenant, receiver.url, "team.created", "tok-1").status_code == 201
    assert create(tenant, receiver.url, "team.updated", "tok-2").status_code == 409

    moved = tenant.call("PUT", f"/v2/webhooks/{webhook['id']}", {"url": receiver.url + "/b"})
    assert moved.json_body["data"]["status"] == "pending_validation"
    assert moved.json_body["data"]["validated_at"] is None
    assert subscriptions.active_webhook_ids(tenant.company_id, "customer.updated") == []


def test_edit_refusals(tenant: Tenant, receiver: Receiver) -> None:
    webhook = create(tenant, receiver.url).json_body["data"]
    path = f"/v2/webhooks/{webhook['id']}"
    assert error_of(tenant.call("PUT", path, {}))["type"] == "Empty"
    assert error_of(tenant.call("PUT", path, {"status": "active"}))["type"] == "UnknownField"
    assert error_of(tenant.call("PUT", path, {"url": "http://10.1.1.1/"}))["type"] == \
        "UrlNotAllowed"
    assert error_of(tenant.call("PUT", path, {"event_name": "nope.created"}))["type"] == \
        "UnexpectedValue"
    assert tenant.call("PUT", "/v2/webhooks/9999", {"token": "x"}).status_code == 404
    assert tenant.call("GET", path).json_body["data"] == webhook


def test_edit_into_a_full_type_is_refused(client, receiver: Receiver) -> None:
    basic = make_tenant(client, plan="basic")
    create(basic, receiver.url, "team.created", "a")
    create(basic, receiver.url, "team.updated", "b")
    customer = create(basic, receiver.url, "customer.created", "c").json_body["data"]
    refused = basic.call("PUT", f"/v2/webhooks/{customer['id']}", {"event_name": "team.deleted"})
    assert refused.status_code == 403
    assert error_of(refused)["type"] == "MaxWebhooksOfPlanTypeReached"
    moved = basic.call("PUT", f"/v2/webhooks/{customer['id']}",
                       {"event_name": "customer.deleted"})
    assert moved.status_code == 200


def activate(tenant: Tenant, webhook_id: int, receiver: Receiver) -> dict[str, Any]:
    before = len(receiver.requests)
    response = tenant.call("POST", f"/v2/webhooks/{webhook_id}/validate")
    assert response.status_code == 200, response.json_body
    secret = receiver.wait_for(before + 1)[-1].json()["secret"]
    verified = tenant.call("POST", f"/v2/webhooks/{webhook_id}/verify", {"secret": secret})
    assert verified.status_code == 200, verified.json_body
    return verified.json_body["data"]


def test_validation_handshake(tenant: Tenant, receiver: Receiver) -> None:
    webhook = create(tenant, receiver.url + "/in?src=clockodo").json_body["data"]
    response = tenant.call("POST", f"/v2/webhooks/{webhook['id']}/validate")
    assert response.status_code == 200
    result = response.json_body["data"]
    assert result["validation_request"]["status_code"] == 200
    assert result["validation_request"]["accepted"] is True
    assert result["webhook"]["pending_validation"]["attempts_left"] == 5
    (request,) = receiver.wait_for(1)
    secret = request.json()["secret"]
    assert request.query == {"src": ["clockodo"], "secret": [secret]}
    assert request.headers["Content-Type"] == "application/json"
    assert secret not in response.body.decode()

    verified = tenant.call("POST", f"/v2/webhooks/{webhook['id']}/verify", {"secret": secret})
    data = verified.json_body["data"]
    assert (data["status"], data["pending_validation"]) == ("active", None)
    assert data["validated_at"] is not None
    assert subscriptions.active_webhook_ids(tenant.company_id, "customer.created") == \
        [webhook["id"]]
    again = tenant.call("POST", f"/v2/webhooks/{webhook['id']}/verify", {"secret": secret})
    assert error_of(again)["type"] == "WebhookAlreadyActive"
    assert error_of(tenant.call("POST", f"/v2/webhooks/{webhook['id']}/validate"))["type"] == \
        "WebhookAlreadyActive"


def test_an_endpoint_that_answers_an_error_status_is_reported(tenant: Tenant,
                                                              receiver: Receiver) -> None:
    receiver.status = 404
    webhook = create(tenant, receiver.url).json_body["data"]
    result = tenant.call("POST", f"/v2/webhooks/{webhook['id']}/validate").json_body["data"]
    assert result["validation_request"]["status_code"] == 404
    assert result["validation_request"]["accepted"] is False


def test_an_unreachable_endpoint_is_a_clear_error(tenant: Tenant) -> None:
    closed = Receiver().start()
    url = closed.url
    closed.stop()
    webhook = create(tenant, url).json_body["data"]
    response = tenant.call("POST", f"/v2/webhooks/{webhook['id']}/validate")
    assert response.status_code == 422
    error = error_of(response)
    assert error["type"] == "EndpointUnreachable"
    assert "refused" in error["details"]["error"]


def test_wrong_secrets_count_down_and_void_the_validation(tenant: Tenant,
                                                          receiver: Receiver) -> None:
    webhook = create(tenant, receiver.url).json_body["data"]
    path = f"/v2/webhooks/{webhook['id']}"
    tenant.call("POST", f"{path}/validate")
    secret = receiver.wait_for(1)[0].json()["secret"]
    for left in (4, 3, 2, 1, 0):
        error = error_of(tenant.call("POST", f"{path}/verify", {"secret": "nope"}))
        assert error["type"] == "WrongValidationSecret"
        assert error["details"] == {"attempts_left": left}
    late = error_of(tenant.call("POST", f"{path}/verify", {"secret": secret}))
    assert late["type"] == "ValidationNotRequested"
    assert tenant.call("GET", path).json_body["data"]["status"] == "pending_validation"


def test_expired_secret(tenant: Tenant, receiver: Receiver, monkeypatch) -> None:
    from chalicelib import clock

    webhook = create(tenant, receiver.url).json_body["data"]
    path = f"/v2/webhooks/{webhook['id']}"
    tenant.call("POST", f"{path}/validate")
    secret = receiver.wait_for(1)[0].json()["secret"]
    real_now = clock.now
    monkeypatch.setattr(clock, "now", lambda: real_now() + 3601)
    expired = tenant.call("POST", f"{path}/verify", {"secret": secret})
    assert expired.status_code == 422
    assert error_of(expired)["type"] == "ValidationSecretExpired"


def test_verify_without_validation_and_bad_verify_bodies(tenant: Tenant,
                                                         receiver: Receiver) -> None:
    webhook = create(tenant, receiver.url).json_body["data"]
    path = f"/v2/webhooks/{webhook['id']}/verify"
    assert error_of(tenant.call("POST", path, {"secret": "x"}))["type"] == \
        "ValidationNotRequested"
    assert error_of(tenant.call("POST", path, {}))["type"] == "Empty"
    assert error_of(tenant.call("POST", path, {"secret": 1}))["type"] == "UnexpectedValue"
    assert error_of(tenant.call("POST", path, b"nope"))["type"] == "InvalidJson"


def test_a_new_url_voids_a_pending_secret(tenant: Tenant, receiver: Receiver) -> None:
    webhook = create(tenant, receiver.url + "/old").json_body["data"]
    path = f"/v2/webhooks/{webhook['id']}"
    tenant.call("POST", f"{path}/validate")
    secret = receiver.wait_for(1)[0].json()["secret"]
    tenant.call("PUT", path, {"url": receiver.url + "/new"})
    error = error_of(tenant.call("POST", f"{path}/verify", {"secret": secret}))
    assert error["type"] == "ValidationNotRequested"


def test_tenants_never_see_each_other(tenant: Tenant, other_tenant: Tenant,
                                      receiver: Receiver) -> None:
    theirs = create(other_tenant, receiver.url, token="theirs").json_body["data"]
    path = f"/v2/webhooks/{theirs['id']}"
    for method, body in [("GET", None), ("PUT", {"token": "mine"}), ("DELETE", None)]:
        response = tenant.call(method, path, body)
        assert response.status_code == 404
        assert error_of(response)["type"] == "ResourceNotFound"
    assert tenant.call("POST", f"{path}/validate").status_code == 404
    assert tenant.call("POST", f"{path}/verify", {"secret": "x"}).status_code == 404
    assert tenant.call("GET", "/v2/webhooks").json_body["data"] == []
    assert other_tenant.call("GET", path).json_body["data"] == theirs
    assert receiver.requests == []


def test_event_catalogue(tenant: Tenant) -> None:
    rows = tenant.call("GET", "/v2/webhooks/events").json_body["data"]
    assert len(rows) == 14
    assert sum(len(r["events"]) for r in rows) == 47
    assert all(r["limit"] == 3 and r["remaining"] == 3 for r in rows)


def test_the_secret_is_never_logged(tenant: Tenant, receiver: Receiver, caplog) -> None:
    import logging

    caplog.set_level(logging.DEBUG)
    webhook = create(tenant, receiver.url).json_body["data"]
    path = f"/v2/webhooks/{webhook['id']}"
    tenant.call("POST", f"{path}/validate")
    secret = receiver.wait_for(1)[0].json()["secret"]
    tenant.call("POST", f"{path}/verify", {"secret": secret})
    assert tenant.call("GET", path).json_body["data"]["status"] == "active"
    assert caplog.records, "nothing was logged at DEBUG: the check would prove nothing"
    assert not [r for r in caplog.records if secret in r.getMessage()]
