"""Budget notifications (``project.budget_notification``): usage counted from the stream
with atomic counters, one notification per highest newly crossed threshold, Clockodo's
payload, only on the plans that offer it."""
from __future__ import annotations

import json
from typing import Any

import pytest

from chalicelib import budget_usage
from local.infra import LocalInfrastructure
from tests.integration.conftest import Tenant, make_tenant
from tests.integration.test_pipeline import Pipeline, subscribe
from tests.receivers import Receiver

EVENT = "project.budget_notification"


@pytest.fixture
def pipeline(aws_backend: LocalInfrastructure, client: Any) -> Pipeline:
    return Pipeline(aws_backend, client)


def create(tenant: Tenant, path: str, body: dict[str, Any], key: str = "data") -> int:
    response = tenant.call("POST", path, body)
    assert response.status_code == 200, response.json_body
    return int(response.json_body[key]["id"])


def setup(tenant: Tenant, budget: dict[str, Any]) -> dict[str, int]:
    user = create(tenant, "/v3/users", {"email": "w@example.com", "name": "W", "role": "worker"})
    customer = create(tenant, "/v3/customers", {"name": "C"})
    service = create(tenant, "/v4/services", {"name": "S"})
    project = create(tenant, "/v4/projects", {"name": "P", "customers_id": customer,
                                              "budget": budget})
    return {"user": user, "customer": customer, "service": service, "project": project}


def log_hours(tenant: Tenant, ids: dict[str, int], hours: float, **extra: Any) -> int:
    return create(tenant, "/v2/entries", {
        "customers_id": ids["customer"], "services_id": ids["service"],
        "users_id": ids["user"], "projects_id": ids["project"], "billable": 1,
        "time_since": "2026-03-02T08:00:00Z", "duration": int(hours * 3600), **extra},
        key="entry")


def notified(pipeline: Pipeline) -> list[dict[str, Any]]:
    """Fan out what the stream holds; the budget notifications queued."""
    assert pipeline.fan_out(pipeline.stream_records()) == {"batchItemFailures": []}
    return [json.loads(m["body"])["payload"] for m in pipeline.messages()
            if json.loads(m["body"])["event_name"] == EVENT]


def test_each_threshold_fires_once_for_the_highest_newly_crossed(
        tenant: Tenant, pipeline: Pipeline, receiver: Receiver) -> None:
    ids = setup(tenant, {"amount": 10, "notification_thresholds": [50, 80, 100]})
    subscribe(tenant, EVENT, receiver.url)
    log_hours(tenant, ids, 4)
    assert notified(pipeline) == []
    extra = log_hours(tenant, ids, 2)  # 60 %
    assert notified(pipeline) == [{"id": ids["project"], "type": "projectBudget",
                                   "threshold": 50}]
    tenant.call("DELETE", f"/v2/entries/{extra}")  # 40 %, then 60 % again: not again
    log_hours(tenant, ids, 2)
    assert notified(pipeline) == []
    log_hours(tenant, ids, 3.5)  # 95 %: 80 only, not 50 again
    assert [p["threshold"] for p in notified(pipeline)] == [80]
    log_hours(tenant, ids, 1)  # two entries at the same moment: 100 % once
    log_hours(tenant, ids, 1)
    assert [p["threshold"] for p in notified(pipeline)] == [100]


def test_a_retried_batch_counts_nothing_twice(tenant: Tenant, pipeline: Pipeline,
                                              receiver: Receiver) -> None:
    ids = setup(tenant, {"amount": 10, "notification_thresholds": [50, 80]})
    subscribe(tenant, EVENT, receiver.url)
    log_hours(tenant, ids, 3)
    records = pipeline.stream_records()
    for _ in range(3):  # Lambda retries a batch after a crash: the same records again
        assert pipeline.fan_out(records) == {"batchItemFailures": []}
    assert budget_usage.usage(tenant.company_id, ("project", ids["project"])).hours == 3
    log_hours(tenant, ids, 2.5)  # 55 %, not 85 %
    records = pipeline.stream_records()
    pipeline.fan_out(records)
    pipeline.fan_out(records)  # the claiming record again: the same delivery id
    payloads = [json.loads(m["body"]) for m in pipeline.messages()]
    assert {p["delivery_id"] for p in payloads if p["event_name"] == EVENT} == \
        {next(p["delivery_id"] for p in payloads if p["event_name"] == EVENT)}
    assert {p["payload"]["threshold"] for p in payloads if p["event_name"] == EVENT} == {50}


def test_monetary_subproject_budgets_count_revenue_and_lump_sums(
        tenant: Tenant, pipeline: Pipeline, receiver: Receiver) -> None:
    ids = setup(tenant, {"amount": 500, "monetary": True, "notification_thresholds": [10]})
    sub = create(tenant, "/v3/subprojects", {"projects_id": ids["project"], "name": "S",
                                             "budget": {"amount": 100, "monetary": True,
                                                        "notification_thresholds": [50, 90]}})
    subscribe(tenant, EVENT, receiver.url)
    log_hours(tenant, ids, 1, subprojects_id=sub, hourly_rate=60)  # 60 of 100, 60 of 500
    assert sorted(notified(pipeline), key=lambda p: p["type"]) == [
        {"id": ids["project"], "type": "projectBudget", "threshold": 10},
        {"id": sub, "type": "subprojectBudget", "threshold": 50}]
    lump = create(tenant, "/v4/lumpSumServices", {"name": "Setup", "price": 20})
    log_hours(tenant, ids, 0, subprojects_id=sub, duration=None, lumpsum_services_id=lump,
              lumpsum_services_amount=2)  # 100 of 100
    assert notified(pipeline) == [{"id": sub, "type": "subprojectBudget", "threshold": 90}]


def test_a_changed_budget_is_taken_into_account(tenant: Tenant, pipeline: Pipeline,
                                                receiver: Receiver) -> None:
    ids = setup(tenant, {"amount": 100, "notification_thresholds": [50]})
    subscribe(tenant, EVENT, receiver.url)
    log_hours(tenant, ids, 30)
    assert notified(pipeline) == []
    path = f"/v4/projects/{ids['project']}"
    tenant.call("PUT", path, {"budget": {"amount": 100, "notification_thresholds": [20, 50]}})
    assert [p["threshold"] for p in notified(pipeline)] == [20]  # a new threshold, crossed
    tenant.call("PUT", path, {"budget": {"amount": 50, "notification_thresholds": [20, 50]}})
    assert [p["threshold"] for p in notified(pipeline)] == [50]  # a new budget: 60 %


def test_the_notification_is_exactly_clockodos(tenant: Tenant, pipeline: Pipeline,
                                               receiver: Receiver) -> None:
    ids = setup(tenant, {"amount": 2, "notification_thresholds": [100]})
    webhook = subscribe(tenant, EVENT, receiver.url + "/budget")
    log_hours(tenant, ids, 2)
    pipeline.fan_out(pipeline.stream_records())
    assert pipeline.deliver(pipeline.messages()) == {"batchItemFailures": []}
    (request,) = receiver.wait_for(1)
    body = json.loads(request.body)
    expected = {"subscription_id": webhook, "company_id": tenant.company_id,
                "occurred_at": body["occurred_at"], "event_name": EVENT, "token": "tok",
                "payload": {"id": ids["project"], "type": "projectBudget", "threshold": 100}}
    assert body == expected
    # sent again from the log (redelivery, recovery): the same payload
    delivery = request.headers["webhook-id"]
    logged = tenant.call("GET", f"/v2/webhooks/{webhook}/deliveries/{delivery}").json_body
    assert logged["data"]["payload"] == expected["payload"]
    again = tenant.call("POST", f"/v2/webhooks/{webhook}/deliveries/{delivery}/redeliver")
    assert again.status_code == 202, again.json_body
    assert pipeline.deliver(pipeline.messages()) == {"batchItemFailures": []}
    assert json.loads(receiver.wait_for(2)[1].body) == expected


def test_only_plans_that_offer_it_raise_it(client: Any, pipeline: Pipeline) -> None:
    pro = make_tenant(client, plan="pro", name="Pro")
    ids = setup(pro, {"amount": 1, "notification_thresholds": [100]})
    log_hours(pro, ids, 2)
    records = pipeline.stream_records()
    assert budget_usage.notifications(records) == []
    # usage is counted all the same
    assert budget_usage.usage(pro.company_id, ("project", ids["project"])).hours == 2
