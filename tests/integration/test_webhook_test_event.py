"""POST /v2/webhooks/{id}/test: an example notification through the normal queue, signed,
sent once and logged like any delivery, marked as a test."""
from __future__ import annotations

import json
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook as Verifier

from local.infra import LocalInfrastructure
from tests.integration.conftest import Tenant
from tests.integration.test_pipeline import Pipeline, subscribe
from tests.openapi_check import assert_conforms
from tests.receivers import Receiver


@pytest.fixture
def pipeline(aws_backend: LocalInfrastructure, client: Any) -> Pipeline:
    return Pipeline(aws_backend, client)


def send_test(tenant: Tenant, webhook_id: int) -> Any:
    path = f"/v2/webhooks/{webhook_id}/test"
    response = tenant.call("POST", path)
    assert_conforms("POST", path, response.status_code, response.json_body)
    return response


def test_a_test_event_is_a_signed_clockodo_notification_logged_as_a_test(
        tenant: Tenant, receiver: Receiver, pipeline: Pipeline) -> None:
    webhook_id = subscribe(tenant, "project.completed", receiver.url + "/hook", token="T0k")
    queued = send_test(tenant, webhook_id)
    assert queued.status_code == 202
    data = queued.json_body["data"]
    assert (data["event_name"], data["resource_type"], data["resource_id"], data["test"]) == \
        ("project.completed", "project", 0, True)

    assert pipeline.deliver(pipeline.messages()) == {"batchItemFailures": []}
    (request,) = receiver.wait_for(1)
    assert json.loads(request.body) == {
        "subscription_id": webhook_id, "company_id": tenant.company_id,
        "occurred_at": data["occurred_at"], "payload": {"project": {"id": 0}},
        "event_name": "project.completed", "token": "T0k"}
    assert request.headers["webhook-id"] == data["id"]
    secret = tenant.call("GET", f"/v2/webhooks/{webhook_id}/secret").json_body["data"]["secret"]
    assert Verifier(secret).verify(request.body, request.headers)

    path = f"/v2/webhooks/{webhook_id}/deliveries"
    (logged,) = tenant.call("GET", path).json_body["data"]
    assert (logged["id"], logged["status"], logged["test"]) == (data["id"], "delivered", True)
    detail = tenant.call("GET", f"{path}/{data['id']}")
    assert_conforms("GET", f"{path}/{data['id']}", 200, detail.json_body)
    assert [a["trigger"] for a in detail.json_body["data"]["attempts"]] == ["test"]


def test_a_failing_test_event_is_tried_once(tenant: Tenant, pipeline: Pipeline) -> None:
    down = Receiver(status=500).start()
    try:
        webhook_id = subscribe(tenant, "team.created", down.url)
        send_test(tenant, webhook_id)
        assert pipeline.deliver(pipeline.messages()) == {"batchItemFailures": []}
        down.wait_for(1)
    finally:
        down.stop()
    (logged,) = tenant.call("GET", f"/v2/webhooks/{webhook_id}/deliveries").json_body["data"]
    assert (logged["status"], logged["attempt_count"], logged["last_status_code"],
            logged["test"]) == ("failed", 1, 500, True)


def test_changes_are_not_marked_as_tests(tenant: Tenant, receiver: Receiver,
                                         pipeline: Pipeline) -> None:
    webhook_id = subscribe(tenant, "service.created", receiver.url)
    tenant.call("POST", "/v4/services", {"name": "A"})
    pipeline.fan_out(pipeline.stream_records())
    pipeline.deliver(pipeline.messages())
    (logged,) = tenant.call("GET", f"/v2/webhooks/{webhook_id}/deliveries").json_body["data"]
    assert (logged["status"], logged["test"]) == ("delivered", False)


def test_only_active_webhooks_of_your_company_get_test_events(
        tenant: Tenant, other_tenant: Tenant, receiver: Receiver, pipeline: Pipeline) -> None:
    pending = tenant.call("POST", "/v2/webhooks", {"event_name": "team.created",
                                                   "url": receiver.url, "token": "p"})
    refused = send_test(tenant, pending.json_body["data"]["id"])
    assert (refused.status_code, refused.json_body["errors"][0]["type"]) == \
        (409, "WebhookNotActive")
    active = subscribe(tenant, "team.updated", receiver.url)
    assert send_test(other_tenant, active).status_code == 404
    assert send_test(tenant, 999).status_code == 404
    assert tenant.call("POST", "/v2/webhooks/x/test").status_code == 404
    assert pipeline.messages() == []
