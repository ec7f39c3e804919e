"""Fan-out and delivery: the real Chalice handlers, invoked with Lambda-shaped events made
from moto's own stream records and queue messages."""
from __future__ import annotations

import json
import time
from dataclasses import replace
from typing import Any

import boto3
import pytest
from standardwebhooks.webhooks import Webhook as Verifier

from chalicelib import aws, settings, subscriptions
from chalicelib.delivery import log as delivery_log
from local.event_sources import sqs_event_record, stream_event_record
from local.infra import LocalInfrastructure
from tests.integration.conftest import Tenant
from tests.receivers import Receiver

REGION = "eu-central-1"


class Pipeline:
    """Reads what the resources stream and the delivery queue hold, as Lambda would."""

    def __init__(self, infra: LocalInfrastructure, client: Any) -> None:
        self.infra = infra
        self.client = client
        self.streams = boto3.client("dynamodbstreams", region_name=REGION)
        self.queues = {lane: infra.queues[name] for lane, name in
                       (("main", "DeliveryQueue"), ("slow", "SlowDeliveryQueue"))}
        self._iterators: dict[str, str] = {}

    def stream_records(self) -> list[dict[str, Any]]:
        """The stream records written since the last call."""
        arn = self.infra.resources_stream_arn
        records = []
        shards = self.streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]
        for shard in shards:
            iterator = self._iterators.get(shard["ShardId"]) or self.streams.get_shard_iterator(
                StreamArn=arn, ShardId=shard["ShardId"],
                ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
            response = self.streams.get_records(ShardIterator=iterator)
            self._iterators[shard["ShardId"]] = response["NextShardIterator"]
            records += [stream_event_record(r, arn, REGION) for r in response["Records"]]
        return records

    def fan_out(self, records: list[dict[str, Any]]) -> dict[str, Any]:
        return self.invoke("fan_out_changes", {"Records": records})

    def messages(self, visibility: int = 30, lane: str = "main") -> list[dict[str, Any]]:
        """Every message now on a delivery queue, received (so hidden for a while)."""
        url = self.queues[lane]
        arn = aws.sqs().get_queue_attributes(
            QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        found = []
        while True:
            batch = aws.sqs().receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                              AttributeNames=["All"],
                                              VisibilityTimeout=visibility).get("Messages", [])
            if not batch:
                return found
            found += [sqs_event_record(m, arn, REGION) for m in batch]

    def deliver(self, records: list[dict[str, Any]], lane: str = "main") -> dict[str, Any]:
        name = "deliver_notifications" if lane == "main" else "deliver_to_failing_endpoints"
        return self.invoke(name, {"Records": records})

    def invoke(self, name: str, event: dict[str, Any]) -> dict[str, Any]:
        response = self.client.lambda_.invoke(name, event)
        return dict(response.payload)


@pytest.fixture
def pipeline(aws_backend: LocalInfrastructure, client: Any) -> Pipeline:
    return Pipeline(aws_backend, client)


def deliver_until_done(pipeline: Pipeline, messages: list[dict[str, Any]]) -> None:
    """Invoke the delivery handler as SQS would: failed messages come back, a few times."""
    for _ in range(5):
        failed = {f["itemIdentifier"] for f in pipeline.deliver(messages)["batchItemFailures"]}
        messages = [m for m in messages if m["messageId"] in failed]
        if not messages:
            return
    raise AssertionError(f"still failing: {messages}")


def subscribe(tenant: Tenant, event_name: str, url: str, token: str = "tok") -> int:
    """An active webhook (the handshake has its own tests)."""
    webhook = subscriptions.create(tenant.company_id, event_name, url, token, limit=3,
                                   on_limit=lambda: AssertionError("limit"))
    subscriptions.save(webhook, replace(webhook, status=subscriptions.ACTIVE))
    return webhook.webhook_id


def test_a_change_reaches_an_active_webhook_signed_and_logged(
        tenant: Tenant, receiver: Receiver, pipeline: Pipeline) -> None:
    webhook_id = subscribe(tenant, "customer.created", receiver.url + "/in")
    created = tenant.call("POST", "/v3/customers", {"name": "Acme"}).json_body["data"]

    records = pipeline.stream_records()
    assert [r["eventName"] for r in records] == ["INSERT"]
    assert isinstance(records[0]["dynamodb"]["ApproximateCreationDateTime"], float)
    assert pipeline.fan_out(records) == {"batchItemFailures": []}
    messages = pipeline.messages()
    assert len(messages) == 1
    assert pipeline.deliver(messages) == {"batchItemFailures": []}

    (request,) = receiver.wait_for(1)
    body = json.loads(request.body)
    assert body == {"subscription_id": webhook_id, "company_id": tenant.company_id,
                    "occurred_at": body["occurred_at"],
                    "payload": {"customer": {"id": created["id"]}},
                    "event_name": "customer.created", "token": "tok"}
    secret = tenant.call("GET", f"/v2/webhooks/{webhook_id}/secret").json_body["data"]["secret"]
    assert Verifier(secret).verify(request.body, request.headers)
    assert request.headers["User-Agent"].startswith("Clockodo-Webhooks/")

    log = tenant.call("GET", f"/v2/webhooks/{webhook_id}/deliveries").json_body["data"]
    assert [(d["id"], d["status"], d["attempt_count"]) for d in log] == \
        [(request.headers["webhook-id"], "delivered", 1)]
    detail = tenant.call("GET", f"/v2/webhooks/{webhook_id}/deliveries/{log[0]['id']}")
    (attempt,) = detail.json_body["data"]["attempts"]
    assert (attempt["attempt"], attempt["trigger"], attempt["status_code"],
            attempt["response_body"]) == (1, "automatic", 200, "ok")


def test_a_retried_fan_out_batch_creates_no_second_delivery(
        tenant: Tenant, receiver: Receiver, pipeline: Pipeline) -> None:
    webhook_id = subscribe(tenant, "service.created", receiver.url)
    tenant.call("POST", "/v4/services", {"name": "A"})
    tenant.call("POST", "/v4/services", {"name": "B"})
    records = pipeline.stream_records()
    pipeline.fan_out(records)
    pipeline.fan_out(records)  # Lambda retries a batch after a crash: the same records again
    messages = pipeline.messages()
    assert len(messages) == 4
    assert len({json.loads(m["body"])["delivery_id"] for m in messages}) == 2
    deliver_until_done(pipeline, messages)
    requests = receiver.wait_for(2)
    assert len({r.headers["webhook-id"] for r in requests}) == 2
    assert len(requests) == 2
    log = tenant.call("GET", f"/v2/webhooks/{webhook_id}/deliveries").json_body
    assert log["paging"]["count_items"] == 2
    assert all(d["attempt_count"] == 1 for d in log["data"])


def test_records_whose_deliveries_could_not_be_queued_are_reported(
        tenant: Tenant, receiver: Receiver, pipeline: Pipeline,
        monkeypatch: pytest.MonkeyPatch) -> None:
    subscribe(tenant, "team.created", receiver.url)
    tenant.call("POST", "/v3/customers", {"name": "no subscriber"})
    tenant.call("POST", "/v3/teams", {"name": "T"})
    records = pipeline.stream_records()
    monkeypatch.setattr(aws.sqs(), "send_message_batch", _refuse_all)
    answer = pipeline.fan_out(records)
    assert answer == {"batchItemFailures": [
        {"itemIdentifier": records[1]["dynamodb"]["SequenceNumber"]}]}


def _refuse_all(**kwargs: Any) -> dict[str, Any]:
    """SQS accepting none of a batch (it answers 200 and lists each entry as failed)."""
    return {"Successful": [], "Failed": [{"Id": e["Id"], "SenderFault": False,
                                          "Code": "InternalError"} for e in kwargs["Entries"]]}


def test_a_failed_send_is_logged_and_offered_again_when_the_schedule_says(
        tenant: Tenant, pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEBHOOKS_RETRY_SCHEDULE", "1")  # two attempts, one second apart
    settings.get.cache_clear()
    failing = Receiver(status=503, body=b"maintenance").start()
    try:
        webhook_id = subscribe(tenant, "service.created", failing.url)
        tenant.call("POST", "/v4/services", {"name": "A"})
        pipeline.fan_out(pipeline.stream_records())
        (message,) = pipeline.messages()
        assert pipeline.deliver([message]) == {
            "batchItemFailures": [{"itemIdentifier": message["messageId"]}]}
        (entry,) = delivery_log.list_for(webhook_id)
        assert (entry["status"], entry["last_status_code"]) == ("pending", 503)
        (attempt,) = delivery_log.get(webhook_id, entry["id"])["attempts"]
        assert attempt["response_body"] == "maintenance"
        assert attempt["next_attempt_at"] is not None

        # hidden until the attempt is due, then offered again; the endpoint is failing, so
        # the main lane hands it to the slow lane, whose worker makes the last attempt
        assert pipeline.messages() == []
        deadline = time.monotonic() + 10
        while not (again := pipeline.messages()):
            assert time.monotonic() < deadline
            time.sleep(0.1)
        assert pipeline.deliver(again) == {"batchItemFailures": []}
        assert len(failing.requests) == 1
        slow = pipeline.messages(lane="slow")
        assert [json.loads(m["body"])["delivery_id"] for m in slow] == [entry["id"]]
        assert pipeline.deliver(slow, lane="slow") == {"batchItemFailures": []}
        entry = delivery_log.get(webhook_id, entry["id"])
        assert (entry["status"], entry["attempt_count"]) == ("failed", 2)
        assert entry["attempts"][-1]["next_attempt_at"] is None
        assert len(failing.requests) == 2
        assert failing.requests[0].headers["webhook-id"] == \
            failing.requests[1].headers["webhook-id"]
        webhook = tenant.call("GET", f"/v2/webhooks/{webhook_id}").json_body["data"]
        assert webhook["consecutive_failures"] == 2
        assert webhook["last_success_at"] is None and webhook["last_delivery_at"]
    finally:
        failing.stop()


def test_deliveries_to_a_failing_endpoint_move_to_the_slow_lane(
        tenant: Tenant, receiver: Receiver, pipeline: Pipeline) -> None:
    broken = Receiver(status=500).start()
    try:
        failing = subscribe(tenant, "service.created", broken.url, "f")
        healthy = subscribe(tenant, "service.created", receiver.url, "h")
        tenant.call("POST", "/v4/services", {"name": "A"})
        pipeline.fan_out(pipeline.stream_records())
        first = pipeline.messages()
        pipeline.deliver(first)  # both tried; the broken one fails once
        tenant.call("POST", "/v4/services", {"name": "B"})
        pipeline.fan_out(pipeline.stream_records())
        second = pipeline.messages()
        assert len(second) == 2
        assert pipeline.deliver(second) == {"batchItemFailures": []}
        assert len(receiver.requests) == 2  # the healthy endpoint got it in the main lane
        assert len(broken.requests) == 1  # the failing one's delivery waits in the slow lane
        (moved,) = pipeline.messages(lane="slow")
        assert json.loads(moved["body"])["webhook_id"] == failing
        assert pipeline.deliver([moved], lane="slow")["batchItemFailures"]  # fails, retried
        assert len(broken.requests) == 2
        assert healthy != failing
    finally:
        broken.stop()


def test_webhooks_that_left_active_or_were_deleted_get_nothing(
        tenant: Tenant, receiver: Receiver, pipeline: Pipeline) -> None:
    paused = subscribe(tenant, "customer.created", receiver.url, "a")
    gone = subscribe(tenant, "customer.created", receiver.url, "b")
    tenant.call("POST", "/v3/customers", {"name": "Acme"})
    pipeline.fan_out(pipeline.stream_records())
    messages = pipeline.messages()
    assert len(messages) == 2
    tenant.call("PUT", f"/v2/webhooks/{paused}", {"url": receiver.url + "/new"})  # → pending
    tenant.call("DELETE", f"/v2/webhooks/{gone}")
    assert pipeline.deliver(messages) == {"batchItemFailures": []}
    assert receiver.requests == []
    (entry,) = delivery_log.list_for(paused)
    assert entry["status"] == "failed"
    assert "pending_validation" in entry["last_error"]
    assert delivery_log.list_for(gone) == []


def test_pending_webhooks_and_no_op_writes_raise_no_delivery(
        tenant: Tenant, receiver: Receiver, pipeline: Pipeline) -> None:
    subscriptions.create(tenant.company_id, "customer.updated", receiver.url, "p", limit=3,
                         on_limit=lambda: AssertionError())  # pending: never validated
    subscribe(tenant, "customer.created", receiver.url, "a")
    created = tenant.call("POST", "/v3/customers", {"name": "Acme"}).json_body["data"]
    tenant.call("PUT", f"/v3/customers/{created['id']}", {"name": "Acme"})  # same value
    records = pipeline.stream_records()
    assert [r["eventName"] for r in records] == ["INSERT", "MODIFY"]
    pipeline.fan_out(records)
    messages = pipeline.messages()
    assert [json.loads(m["body"])["event_name"] for m in messages] == ["customer.created"]


def test_duplicate_messages_in_one_batch_send_once(tenant: Tenant, receiver: Receiver,
                                                   pipeline: Pipeline) -> None:
    subscribe(tenant, "service.created", receiver.url)
    tenant.call("POST", "/v4/services", {"name": "A"})
    records = pipeline.stream_records()
    pipeline.fan_out(records)
    pipeline.fan_out(records)
    messages = pipeline.messages()
    assert len(messages) == 2
    # Sent concurrently: one copy claims the delivery; the other finds it being sent and
    # asks to be offered again (if the first failed, it would retry it)...
    answer = pipeline.deliver(messages)
    assert len(answer["batchItemFailures"]) <= 1
    receiver.wait_for(1)
    # ... and when it comes back, the delivery is done: it is dropped, nothing is sent.
    again = [m for m in messages
             if {"itemIdentifier": m["messageId"]} in answer["batchItemFailures"]]
    assert pipeline.deliver(again) == {"batchItemFailures": []}
    assert len(receiver.requests) == 1


@pytest.mark.parametrize("lane", ["main", "slow"])
def test_a_copy_that_arrives_while_another_worker_sends_is_offered_again(
        tenant: Tenant, receiver: Receiver, pipeline: Pipeline, lane: str) -> None:
    """Both workers read the log to tell "being sent" from "done" (the IAM test needs the
    calls of this branch from both functions)."""
    subscribe(tenant, "service.created", receiver.url)
    tenant.call("POST", "/v4/services", {"name": "A"})
    pipeline.fan_out(pipeline.stream_records())
    (message,) = pipeline.messages()
    config = settings.get()
    # another worker holds the lease on this delivery
    assert delivery_log.claim(json.loads(message["body"]), lease_seconds=60,
                              retention_days=config.delivery_log_retention_days,
                              manual=False) == 1
    assert pipeline.deliver([message], lane=lane) == \
        {"batchItemFailures": [{"itemIdentifier": message["messageId"]}]}
    assert receiver.requests == []


def one_delivery(tenant: Tenant, receiver: Receiver,
                 pipeline: Pipeline) -> tuple[int, dict[str, Any]]:
    """A webhook, a change, its delivery: the webhook's id and the log entry."""
    webhook_id = subscribe(tenant, "service.created", receiver.url)
    tenant.call("POST", "/v4/services", {"name": "A"})
    pipeline.fan_out(pipeline.stream_records())
    pipeline.deliver(pipeline.messages())
    (entry,) = delivery_log.list_for(webhook_id)
    return webhook_id, entry


def test_redelivery_sends_the_same_webhook_id(tenant: Tenant, receiver: Receiver,
                                              pipeline: Pipeline) -> None:
    webhook_id, entry = one_delivery(tenant, receiver, pipeline)
    path = f"/v2/webhooks/{webhook_id}/deliveries/{entry['id']}/redeliver"
    assert tenant.call("POST", path).status_code == 202
    pipeline.deliver(pipeline.messages())
    first, second = receiver.wait_for(2)
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == entry["id"]
    attempts = delivery_log.get(webhook_id, entry["id"])["attempts"]
    assert [a["trigger"] for a in attempts] == ["automatic", "manual"]
    assert tenant.call("POST", f"/v2/webhooks/{webhook_id}/deliveries/msg_x/redeliver"
                       ).status_code == 404


def test_the_log_is_private_to_the_webhooks_company(tenant: Tenant, other_tenant: Tenant,
                                                    receiver: Receiver,
                                                    pipeline: Pipeline) -> None:
    webhook_id, entry = one_delivery(tenant, receiver, pipeline)
    base = f"/v2/webhooks/{webhook_id}"
    for method, path in (("GET", "/deliveries"), ("GET", f"/deliveries/{entry['id']}"),
                         ("POST", f"/deliveries/{entry['id']}/redeliver"), ("GET", "/secret")):
        response = other_tenant.call(method, base + path)
        assert response.status_code == 404
        assert response.json_body["errors"][0]["type"] == "ResourceNotFound"
