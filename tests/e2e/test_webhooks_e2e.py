"""The webhook subscriptions API on the running local stack, over real HTTP."""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.e2e.conftest import ApiUser, RunningStack, admin_cli, new_company
from tests.openapi_check import assert_conforms
from tests.receivers import Receiver


def checked(user: ApiUser, method: str, path: str, body: Any = None, **kwargs: Any) -> Any:
    """Call the API and check the answer against the OpenAPI document."""
    response = user.call(method, path, body, **kwargs)
    assert response.headers["Content-Type"].startswith("application/json")
    assert_conforms(method, path, response.status_code, response.json())
    return response


def error_type(response: Any) -> str:
    (error,) = response.json()["errors"]
    return error["type"]


def test_ready_line_describes_the_stack(stack: RunningStack) -> None:
    assert {"api", "aws_endpoint", "company_id", "api_user", "api_key"} <= set(stack.ready)
    assert stack.ready["api"].startswith("http://127.0.0.1:")
    assert sum(line.startswith("READY ") for line in stack.output) == 1


def test_create_validate_verify_and_every_status_change(company: ApiUser,
                                                       receiver: Receiver) -> None:
    created = checked(company, "POST", "/v2/webhooks", {
        "event_name": "customer.created", "url": receiver.url + "/clockodo", "token": "T0k3n"})
    assert created.status_code == 201
    webhook = created.json()["data"]
    assert webhook["status"] == "pending_validation"
    path = f"/v2/webhooks/{webhook['id']}"

    validated = checked(company, "POST", f"{path}/validate")
    assert validated.status_code == 200
    assert validated.json()["data"]["validation_request"]["status_code"] == 200
    (request,) = receiver.wait_for(1)
    secret = request.json()["secret"]
    assert request.query["secret"] == [secret]
    assert secret not in validated.text

    wrong = checked(company, "POST", f"{path}/verify", {"secret": "00000000-0000-4000-8000-0"})
    assert (wrong.status_code, error_type(wrong)) == (422, "WrongValidationSecret")
    assert company.call("GET", path).json()["data"]["status"] == "pending_validation"

    verified = checked(company, "POST", f"{path}/verify", {"secret": secret.upper()})
    assert verified.status_code == 200
    assert verified.json()["data"]["status"] == "active"
    assert checked(company, "GET", path).json()["data"]["status"] == "active"

    renamed = checked(company, "PUT", path, {"token": "n3w", "event_name": "customer.updated"})
    assert renamed.json()["data"]["status"] == "active"

    moved = checked(company, "PUT", path, {"url": receiver.url + "/elsewhere"})
    assert moved.json()["data"]["status"] == "pending_validation"
    checked(company, "POST", f"{path}/validate")
    second_secret = receiver.wait_for(2)[1].json()["secret"]
    assert receiver.requests[1].path.startswith("/elsewhere?secret=")
    stale = checked(company, "POST", f"{path}/verify", {"secret": secret})
    assert error_type(stale) == "WrongValidationSecret"
    assert checked(company, "POST", f"{path}/verify",
                   {"secret": second_secret}).json()["data"]["status"] == "active"

    listed = checked(company, "GET", "/v2/webhooks?filter[status]=active").json()
    assert [w["id"] for w in listed["data"]] == [webhook["id"]]
    assert checked(company, "DELETE", path).json() == {"success": True}
    assert checked(company, "GET", path).status_code == 404


@pytest.mark.parametrize(("method", "path", "body", "status", "type_"), [
    ("POST", "/v2/webhooks", b"{not json", 400, "InvalidJson"),
    ("POST", "/v2/webhooks", b"[1]", 400, "InvalidJson"),
    ("POST", "/v2/webhooks", {"event_name": "customer.created", "url": "http://127.0.0.1/",
                              "token": "t", "secret": "x"}, 422, "UnknownField"),
    ("POST", "/v2/webhooks", {"event_name": "invoice.created", "url": "http://127.0.0.1/",
                              "token": "t"}, 422, "UnexpectedValue"),
    ("POST", "/v2/webhooks", {"event_name": "customer.created",
                              "url": "http://169.254.169.254/", "token": "t"},
     422, "UrlNotAllowed"),
    ("POST", "/v2/webhooks", {"event_name": "customer.created", "url": "http://0x7f.1/",
                              "token": "t"}, 422, "UrlNotAllowed"),
    ("POST", "/v2/webhooks", {"event_name": "customer.created",
                              "url": "http://[::ffff:127.0.0.1]/", "token": "t"},
     422, "UrlNotAllowed"),
    ("POST", "/v2/webhooks", {"event_name": "customer.created", "url": "http://10.0.0.5/",
                              "token": "t"}, 422, "UrlNotAllowed"),
    ("POST", "/v2/webhooks", {"event_name": "customer.created",
                              "url": "http://u:p@127.0.0.1/", "token": "t"},
     422, "UrlNotAllowed"),
    ("POST", "/v2/webhooks", b'{"token": "' + b"x" * 70000 + b'"}', 413, "PayloadTooLarge"),
    ("GET", "/v2/webhooks/abc", None, 404, "ResourceNotFound"),
    ("GET", "/v2/webhooks/999999", None, 404, "ResourceNotFound"),
    ("PUT", "/v2/webhooks/x1", {"token": "a"}, 404, "ResourceNotFound"),
    ("POST", "/v2/webhooks/abc/validate", None, 404, "ResourceNotFound"),
    ("GET", "/v2/webhooks?items_per_page=abc", None, 400, "NotBetween"),
    ("GET", "/v2/webhooks?cursor=abc", None, 400, "UnexpectedValue"),
    ("GET", "/v2/webhooks?page=2", None, 400, "UnknownParameter"),
])
def test_bad_input_is_a_4xx_in_the_error_format_and_changes_nothing(
        company: ApiUser, method: str, path: str, body: Any, status: int, type_: str) -> None:
    response = checked(company, method, path, body)
    assert (response.status_code, error_type(response)) == (status, type_)
    assert company.call("GET", "/v2/webhooks").json()["data"] == []


def test_authentication_errors(stack: RunningStack, company: ApiUser) -> None:
    no_app = company.call("GET", "/v2/webhooks",
                          headers={"X-Clockodo-External-Application": ""})
    assert (no_app.status_code, error_type(no_app)) == (400, "MissingExternalApplication")
    wrong = company.call("GET", "/v2/webhooks", headers={"X-ClockodoApiKey": "0" * 32})
    assert (wrong.status_code, error_type(wrong)) == (401, "Unauthenticated")
    basic = company.session.get(stack.api + "/v2/webhooks", timeout=10,
                                auth=(company.api_user, company.api_key),
                                headers={"X-Clockodo-External-Application": "e2e;x@y.z"})
    assert basic.status_code == 200


def test_concurrent_creates_yield_exactly_the_limit(stack: RunningStack,
                                                    receiver: Receiver) -> None:
    for plan, limit in (("enterprise", 3), ("basic", 2)):
        user = new_company(stack, f"Race {plan}", plan)
        start = threading.Barrier(20)

        def create(index: int, user: ApiUser = user, start: threading.Barrier = start) -> Any:
            start.wait()
            return user.call("POST", "/v2/webhooks", {
                "event_name": ["absence.created", "absence.updated", "absence.deleted",
                               "absence.approved"][index % 4],
                "url": receiver.url, "token": f"race-{index}"})

        with ThreadPoolExecutor(max_workers=20) as pool:
            responses = list(pool.map(create, range(20)))
        statuses = sorted(r.status_code for r in responses)
        assert statuses.count(201) == limit, statuses
        assert statuses.count(403) == 20 - limit, statuses
        assert {error_type(r) for r in responses if r.status_code == 403} == \
            {"MaxWebhooksOfPlanTypeReached"}
        listed = user.call("GET", "/v2/webhooks").json()["data"]
        assert len(listed) == limit
        events = {r["type"]: r for r in user.call("GET", "/v2/webhooks/events").json()["data"]}
        assert (events["absence"]["used"], events["absence"]["remaining"]) == (limit, 0)


def test_tenants_are_isolated(stack: RunningStack, company: ApiUser,
                              receiver: Receiver) -> None:
    theirs = company.call("POST", "/v2/webhooks", {
        "event_name": "team.created", "url": receiver.url, "token": "secret-token"}).json()
    path = f"/v2/webhooks/{theirs['data']['id']}"
    intruder = new_company(stack, "Intruder", "enterprise")
    for method, body in [("GET", None), ("PUT", {"url": receiver.url + "/x"}),
                         ("DELETE", None)]:
        response = checked(intruder, method, path, body)
        assert (response.status_code, error_type(response)) == (404, "ResourceNotFound")
    assert intruder.call("POST", f"{path}/validate").status_code == 404
    assert intruder.call("POST", f"{path}/verify", {"secret": "x"}).status_code == 404
    assert intruder.call("GET", "/v2/webhooks").json()["data"] == []
    # the same token is free in another company
    assert intruder.call("POST", "/v2/webhooks", {
        "event_name": "team.created", "url": receiver.url, "token": "secret-token"}
    ).status_code == 201
    assert company.call("GET", path).json() == theirs
    assert receiver.requests == []


def test_a_hanging_endpoint_is_cut_off_by_the_timeout(company: ApiUser) -> None:
    slow = Receiver(delay=8).start()
    try:
        webhook = company.call("POST", "/v2/webhooks", {
            "event_name": "user.created", "url": slow.url, "token": "slow"}).json()["data"]
        response = company.call("POST", f"/v2/webhooks/{webhook['id']}/validate")
        assert (response.status_code, error_type(response)) == (422, "EndpointUnreachable")
        assert "timeout" in response.json()["errors"][0]["details"]["error"]
        assert response.elapsed.total_seconds() < 7.5
    finally:
        slow.stop()


def test_redirects_are_not_followed(company: ApiUser, receiver: Receiver) -> None:
    redirecting = Receiver(status=302, headers={"Location": receiver.url + "/stolen"}).start()
    try:
        webhook = company.call("POST", "/v2/webhooks", {
            "event_name": "user.deleted", "url": redirecting.url, "token": "r"}).json()["data"]
        result = company.call("POST", f"/v2/webhooks/{webhook['id']}/validate").json()["data"]
        assert result["validation_request"] == {**result["validation_request"],
                                                "status_code": 302, "accepted": False}
        redirecting.wait_for(1)
        assert receiver.requests == []
    finally:
        redirecting.stop()


def test_operator_cli(stack: RunningStack, receiver: Receiver) -> None:
    (created,) = admin_cli(stack, "create-company", "--name", "CLI GmbH", "--plan", "basic")
    assert {"company_id", "api_user", "api_key", "users_id"} <= set(created)
    user = ApiUser(stack.api, created["api_user"], created["api_key"], created["company_id"])
    owner = user.call("GET", "/v4/users/me").json()["data"]  # the API user is a user
    assert (owner["id"], owner["email"], owner["role"]) == \
        (created["users_id"], created["api_user"], "owner")
    events = {r["type"]: r for r in user.call("GET", "/v2/webhooks/events").json()["data"]}
    assert events["user"]["limit"] == 2

    companies = admin_cli(stack, "list-companies")
    assert {"company_id": created["company_id"], "name": "CLI GmbH", "plan": "basic"}.items() \
        <= next(c for c in companies if c["company_id"] == created["company_id"]).items()

    (moved,) = admin_cli(stack, "set-plan", "--company-id", str(created["company_id"]),
                         "--plan", "enterprise")
    assert moved["plan"] == "enterprise"
    events = {r["type"]: r for r in user.call("GET", "/v2/webhooks/events").json()["data"]}
    assert events["user"]["limit"] == 3

    (issued,) = admin_cli(stack, "issue-key", "--company-id", str(created["company_id"]),
                          "--email", created["api_user"])
    second = ApiUser(stack.api, issued["api_user"], issued["api_key"], created["company_id"])
    assert second.call("GET", "/v2/webhooks").status_code == 200
    keys = admin_cli(stack, "list-keys", "--email", created["api_user"])
    assert {k["key_id"] for k in keys} == {created["key_id"], issued["key_id"]}
    assert all("api_key" not in k and "key_hash" not in k for k in keys)

    assert admin_cli(stack, "revoke-key", "--email", created["api_user"], "--key-id",
                     created["key_id"]) == [{"success": True}]
    assert user.call("GET", "/v2/webhooks").status_code == 401
    assert second.call("GET", "/v2/webhooks").status_code == 200
    assert issued["users_id"] == owner["id"]  # the same e-mail: the same user

    (bot,) = admin_cli(stack, "issue-key", "--company-id", str(created["company_id"]),
                       "--email", "bot@cli.example", "--user-name", "Sync bot")
    me = ApiUser(stack.api, bot["api_user"], bot["api_key"], created["company_id"]).call(
        "GET", "/v4/users/me").json()["data"]
    assert (me["id"], me["name"], me["role"]) == (bot["users_id"], "Sync bot", "worker")


def test_the_stack_stops_cleanly_on_sigterm() -> None:
    import requests

    from tests.e2e.conftest import start_stack

    own = start_stack()
    api, aws = own.api, own.ready["aws_endpoint"]
    assert requests.get(api + "/v2/openapi.json", timeout=10).status_code == 200
    # SIGTERM to the process group, as a terminal or a process manager sends it; make itself
    # dies of the signal, the stack shuts its servers down and says so.
    own.stop()
    for url in (api + "/v2/openapi.json", aws):
        with pytest.raises(requests.ConnectionError):
            requests.get(url, timeout=2)
    assert any(line.strip() == "stopped" for line in own.output)
