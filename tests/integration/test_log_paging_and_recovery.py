"""The delivery log read a page at a time (by cursor, a status through its index), and
recovery as a bounded job that never sends a delivery twice."""
from __future__ import annotations

import json
import secrets
import time
from typing import Any

import pytest

from chalicelib import aws, subscriptions
from chalicelib.delivery import fairness, recovery
from chalicelib.delivery import log as delivery_log
from tests.integration.conftest import Tenant
from tests.integration.test_pipeline import Pipeline, pipeline, subscribe  # noqa: F401
from tests.receivers import Receiver


@pytest.fixture(autouse=True)
def next_steps_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Steps queue the next one a little delayed (its own test); here, at once."""
    monkeypatch.setattr(recovery, "NEXT_STEP_DELAY", 0)


def seed(tenant: Tenant, webhook_id: int, statuses: list[str]) -> list[str]:
    """Log entries with these statuses, oldest first (as the log has them after sends);
    their ids, oldest first."""
    ids = []
    start = int((time.time() - 3600) * 1000)
    for index, status in enumerate(statuses):
        message = {"delivery_id": f"msg_{start + index:012x}{secrets.token_hex(10)}",
                   "company_id": tenant.company_id, "webhook_id": webhook_id,
                   "event_name": "customer.created", "resource_type": "customer",
                   "resource_id": index + 1, "occurred_at": "2026-11-28T20:00:00Z",
                   "trigger": "automatic"}
        assert delivery_log.mark_failed(message, "seeded")
        if status != delivery_log.FAILED:
            attempt = delivery_log.attempt_entry(1, "manual", time.time(), 5, 200, None, "")
            assert delivery_log.claim_manual(message, "seed", lease_seconds=30,
                                             retention_days=30, token="seed") is not None
            assert delivery_log.record_manual(message, attempt, succeeded=True,
                                              scheduled=False, request_id="seed",
                                              token="seed")
        ids.append(message["delivery_id"])
    return ids


def pages(tenant: Tenant, path: str) -> list[dict[str, Any]]:
    """Every page of a list, following next_cursor."""
    found, cursor = [], None
    while True:
        page = tenant.call("GET", path + (f"&cursor={cursor}" if cursor else "")).json_body
        found.append(page)
        cursor = page["paging"]["next_cursor"]
        if cursor is None:
            return found


def test_the_log_is_read_a_page_at_a_time_by_cursor(tenant: Tenant, receiver: Receiver) -> None:
    webhook_id = subscribe(tenant, "customer.created", receiver.url)
    ids = seed(tenant, webhook_id, ["failed", "delivered"] * 4 + ["failed"])
    path = f"/v2/webhooks/{webhook_id}/deliveries?items_per_page=4"
    read = pages(tenant, path)
    assert [len(p["data"]) for p in read] == [4, 4, 1]
    assert [d["id"] for p in read for d in p["data"]] == ids[::-1]  # newest first, each once


def test_a_status_is_read_through_its_index_so_every_page_is_full(
        tenant: Tenant, receiver: Receiver) -> None:
    """A filter over the log would read ``items_per_page`` entries and return the failed
    among them (here: often none); the index returns pages of failed entries only."""
    webhook_id = subscribe(tenant, "customer.created", receiver.url)
    ids = seed(tenant, webhook_id, ["delivered"] * 5 + ["failed"] * 3 + ["delivered"] * 5)
    queries: list[dict[str, Any]] = []
    client = aws.dynamodb()
    record = lambda params, **_: queries.append(dict(params))  # noqa: E731
    client.meta.events.register("provide-client-params.dynamodb.Query", record)
    try:
        read = pages(tenant, f"/v2/webhooks/{webhook_id}/deliveries?items_per_page=2"
                             "&filter%5Bstatus%5D=failed")
    finally:
        client.meta.events.unregister("provide-client-params.dynamodb.Query", record)
    assert [len(p["data"]) for p in read] == [2, 1]
    # one query of the index per page, of the page's size: no filter over the log
    log_queries = [q for q in queries if q["TableName"].endswith("-deliveries")]
    assert [(q.get("IndexName"), q["Limit"], "FilterExpression" in q)
            for q in log_queries] == [("by_status", 2, False)] * 2
    assert [d["id"] for p in read for d in p["data"]] == ids[5:8][::-1]
    assert all(d["status"] == "failed" for p in read for d in p["data"])
    # a delivery that changes status moves in the index with it
    message = {"delivery_id": ids[6], "company_id": tenant.company_id,
               "webhook_id": webhook_id, "event_name": "customer.created",
               "resource_type": "customer", "resource_id": 7,
               "occurred_at": "2026-11-28T20:00:00Z", "trigger": "manual"}
    attempt = delivery_log.attempt_entry(1, "manual", time.time(), 5, 200, None, "")
    assert delivery_log.claim_manual(message, "r", lease_seconds=30, retention_days=30,
                                     token="t") is not None
    assert delivery_log.record_manual(message, attempt, succeeded=True, scheduled=False,
                                      request_id="r", token="t")
    failed = delivery_log.page_for(webhook_id, 10, status="failed")[0]
    assert [d["id"] for d in failed] == [ids[7], ids[5]]
    delivered = delivery_log.page_for(webhook_id, 20, status="delivered")[0]
    assert len(delivered) == 11 and ids[6] in [d["id"] for d in delivered]


def test_forged_cursors_are_refused(tenant: Tenant, receiver: Receiver) -> None:
    webhook_id = subscribe(tenant, "customer.created", receiver.url)
    for forged in ("abc", "djE6bXNnXw", "djE6MQ", "%F0%9F%98%80"):
        refused = tenant.call("GET", f"/v2/webhooks/{webhook_id}/deliveries?cursor={forged}")
        assert refused.status_code == 400, forged
        assert refused.json_body["errors"][0]["path"] == "cursor"


#: One ``since`` for the whole module: a job's id comes from it, and a test that repeats
#: a request must send the same one (not one a second later)
SINCE = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 7200))


def start(tenant: Tenant, webhook_id: int) -> Any:
    return tenant.call("POST", f"/v2/webhooks/{webhook_id}/recover", {"since": SINCE})


def job(tenant: Tenant, webhook_id: int, job_id: str) -> dict[str, Any]:
    response = tenant.call("GET", f"/v2/webhooks/{webhook_id}/recover/{job_id}")
    assert response.status_code == 200, response.json_body
    return dict(response.json_body["data"])


def test_recovery_is_a_job_of_bounded_steps_that_queues_every_failed_delivery(
        tenant: Tenant, receiver: Receiver, pipeline: Pipeline,  # noqa: F811
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(recovery, "CHUNK", 2)
    webhook_id = subscribe(tenant, "customer.created", receiver.url)
    ids = seed(tenant, webhook_id, ["failed", "delivered"] * 4 + ["failed"])
    started = start(tenant, webhook_id)
    assert started.status_code == 202
    data = started.json_body["data"]
    assert (data["status"], data["queued"]) == ("running", 0)
    assert pipeline.messages() == []  # nothing is sent from inside the API call
    assert pipeline.run_recoveries() == 3  # 5 failed deliveries, 2 a step
    done = job(tenant, webhook_id, data["id"])
    assert (done["status"], done["queued"]) == ("done", 5)
    queued = [json.loads(m["body"]) for m in pipeline.messages()]
    assert sorted(m["delivery_id"] for m in queued) == sorted(ids[::2])
    assert all(m["request_id"].startswith(data["id"] + ":") for m in queued)


def test_the_next_step_is_queued_a_little_delayed_so_it_comes_after_this_one_recorded(
        tenant: Tenant, receiver: Receiver, pipeline: Pipeline,  # noqa: F811
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(recovery, "NEXT_STEP_DELAY", 2)
    monkeypatch.setattr(recovery, "CHUNK", 1)
    webhook_id = subscribe(tenant, "customer.created", receiver.url)
    seed(tenant, webhook_id, ["failed", "failed", "failed"])
    start(tenant, webhook_id)
    (first,) = pipeline.messages(lane="recover")
    assert pipeline.invoke("run_recoveries", {"Records": [first]}) == {"batchItemFailures": []}
    attributes = aws.sqs().get_queue_attributes(
        QueueUrl=pipeline.queues["recover"],
        AttributeNames=["ApproximateNumberOfMessagesDelayed"])["Attributes"]
    assert attributes["ApproximateNumberOfMessagesDelayed"] == "1"


def test_the_same_request_answers_its_job_and_sends_nothing_twice(
        tenant: Tenant, receiver: Receiver, pipeline: Pipeline) -> None:  # noqa: F811
    webhook_id = subscribe(tenant, "customer.created", receiver.url)
    seed(tenant, webhook_id, ["failed", "failed"])
    first = start(tenant, webhook_id)
    again = start(tenant, webhook_id)
    assert (first.status_code, again.status_code) == (202, 200)
    assert again.json_body["data"]["id"] == first.json_body["data"]["id"]
    assert pipeline.run_recoveries() == 1
    start(tenant, webhook_id)
    assert pipeline.run_recoveries() == 0  # the finished job is answered, not run again
    assert len(pipeline.messages()) == 2


def test_a_step_that_runs_twice_or_too_early_sends_nothing_twice(
        tenant: Tenant, receiver: Receiver, pipeline: Pipeline,  # noqa: F811
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(recovery, "CHUNK", 1)
    webhook_id = subscribe(tenant, "customer.created", receiver.url)
    seed(tenant, webhook_id, ["failed", "failed"])
    job_id = start(tenant, webhook_id).json_body["data"]["id"]
    (first,) = pipeline.messages(lane="recover")
    assert pipeline.invoke("run_recoveries", {"Records": [first]}) == {"batchItemFailures": []}
    (second,) = pipeline.messages(lane="recover")
    # an SQS duplicate of the first step: the job is past it
    assert pipeline.invoke("run_recoveries", {"Records": [first]}) == {"batchItemFailures": []}
    assert job(tenant, webhook_id, job_id)["queued"] == 1
    # a step whose predecessor has not recorded yet waits on the queue (retried)
    early = {**second, "body": second["body"].replace('"step":1', '"step":2')}
    assert pipeline.invoke("run_recoveries", {"Records": [early]}) == \
        {"batchItemFailures": [{"itemIdentifier": second["messageId"]}]}
    assert pipeline.invoke("run_recoveries", {"Records": [second]}) == {"batchItemFailures": []}
    # DynamoDB may or may not say "more" when a page ends at the last item: one step more
    assert pipeline.run_recoveries() <= 1
    assert job(tenant, webhook_id, job_id)["status"] == "done"
    assert len(pipeline.messages()) == 2


def test_a_chunk_sqs_refuses_is_queued_again_never_skipped(
        tenant: Tenant, receiver: Receiver, pipeline: Pipeline,  # noqa: F811
        monkeypatch: pytest.MonkeyPatch) -> None:
    webhook_id = subscribe(tenant, "customer.created", receiver.url)
    seed(tenant, webhook_id, ["failed", "failed"])
    job_id = start(tenant, webhook_id).json_body["data"]["id"]
    (step,) = pipeline.messages(lane="recover")
    real = fairness.send
    monkeypatch.setattr(fairness, "send", lambda messages: [1])  # SQS refused one
    assert pipeline.invoke("run_recoveries", {"Records": [step]}) == \
        {"batchItemFailures": [{"itemIdentifier": step["messageId"]}]}
    waiting = job(tenant, webhook_id, job_id)
    assert (waiting["status"], waiting["queued"]) == ("running", 0)
    monkeypatch.setattr(fairness, "send", real)
    assert pipeline.invoke("run_recoveries", {"Records": [step]}) == {"batchItemFailures": []}
    assert job(tenant, webhook_id, job_id)["queued"] == 2
    assert len(pipeline.messages()) == 2


def test_a_job_stops_when_its_webhook_is_no_longer_active(
        tenant: Tenant, receiver: Receiver, pipeline: Pipeline) -> None:  # noqa: F811
    webhook_id = subscribe(tenant, "customer.created", receiver.url)
    seed(tenant, webhook_id, ["failed"])
    job_id = start(tenant, webhook_id).json_body["data"]["id"]
    subscriptions.delete(subscriptions.get(tenant.company_id, webhook_id))
    assert pipeline.run_recoveries() == 1
    assert pipeline.messages() == []
    stopped = recovery.get(tenant.company_id, webhook_id, job_id)
    assert stopped["status"] == "stopped" and "deleted" in stopped["stopped_because"]


def test_a_dead_lettered_step_stops_its_job_and_the_same_request_starts_it_again(
        tenant: Tenant, receiver: Receiver, pipeline: Pipeline) -> None:  # noqa: F811
    webhook_id = subscribe(tenant, "customer.created", receiver.url)
    seed(tenant, webhook_id, ["failed"])
    job_id = start(tenant, webhook_id).json_body["data"]["id"]
    (step,) = pipeline.messages(lane="recover")
    dead = [{**step, "attributes": {"ApproximateReceiveCount": "20"}}]
    assert pipeline.invoke("record_dead_letters", {"Records": dead}) == \
        {"batchItemFailures": []}
    stopped = job(tenant, webhook_id, job_id)
    assert stopped["status"] == "stopped"
    assert "dead-letter queue" in stopped["stopped_because"]
    again = start(tenant, webhook_id)
    assert (again.status_code, again.json_body["data"]["id"]) == (202, job_id)
    assert pipeline.run_recoveries() == 1
    assert job(tenant, webhook_id, job_id)["status"] == "done"
    assert len(pipeline.messages()) == 1


def test_jobs_are_private_to_their_company(tenant: Tenant, other_tenant: Tenant,
                                           receiver: Receiver) -> None:
    webhook_id = subscribe(tenant, "customer.created", receiver.url)
    job_id = start(tenant, webhook_id).json_body["data"]["id"]
    assert tenant.call("GET", f"/v2/webhooks/{webhook_id}/recover/{job_id}").status_code == 200
    for path in (f"/v2/webhooks/{webhook_id}/recover/{job_id}",
                 f"/v2/webhooks/{webhook_id}/recover/rcv_{'0' * 24}"):
        response = other_tenant.call("GET", path)
        assert response.status_code == 404
    assert tenant.call("GET", f"/v2/webhooks/{webhook_id}/recover/x").status_code == 404
