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

from chalicelib import admin, aws, clock, settings, subscriptions
from chalicelib.delivery import log as delivery_log
from chalicelib.delivery import worker
from local.event_sources import sqs_event_record, stream_event_record
from local.infra import LocalInfrastructure
from tests.integration.conftest import Tenant
from tests.reads import Calls
from tests.receivers import Receiver

REGION = "eu-central-1"


def logged(webhook_id: int) -> list[dict[str, Any]]:
    """The webhook's whole delivery log, newest first."""
    return delivery_log.page_for(webhook_id, 1000)[0]


class Pipeline:
    """Reads what the resources stream and the delivery queue hold, as Lambda would."""

    def __init__(self, infra: LocalInfrastructure, client: Any) -> None:
        self.infra = infra
        self.client = client
        self.streams = boto3.client("dynamodbstreams", region_name=REGION)
        self.queues = {lane: infra.queues[name] for lane, name in
                       (("main", "DeliveryQueue"), ("bursts", "BurstDeliveryQueue"),
                        ("slow", "SlowDeliveryQueue"), ("recover", "RecoveryQueue"))}
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
        name = {"main": "deliver_notifications", "bursts": "deliver_bursts",
                "slow": "deliver_to_failing_endpoints"}[lane]
        return self.invoke(name, {"Records": records})

    def count(self, lane: str, attribute: str) -> int:
        """One of the queue's approximate counts, e.g. ApproximateNumberOfMessagesDelayed."""
        attributes = aws.sqs().get_queue_attributes(QueueUrl=self.queues[lane],
                                                    AttributeNames=[attribute])
        return int(attributes["Attributes"][attribute])

    def run_recoveries(self) -> int:
        """Run recovery steps, as their queue hands them out, until none is left; how many."""
        steps = 0
        while batch := self.messages(lane="recover"):
            for record in batch:  # batch_size=1, as the mapping's
                assert self.invoke("run_recoveries", {"Records": [record]}) == \
                    {"batchItemFailures": []}
                steps += 1
        return steps

    def invoke(self, name: str, event: dict[str, Any]) -> dict[str, Any]:
        response = self.client.lambda_.invoke(name, event)
        return dict(response.payload)


@pytest.fixture
def pipeline(aws_backend: LocalInfrastructure, client: Any, tenant: Tenant) -> Pipeline:
    found = Pipeline(aws_backend, client)
    found.stream_records()  # the set-up's changes (the company's owner user) are not the test's
    return found


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
    assert len(log["data"]) == 2 and log["paging"]["next_cursor"] is None
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
        # done with this message: the next attempt has a message of its own, delayed
        assert pipeline.deliver([message]) == {"batchItemFailures": []}
        (entry,) = logged(webhook_id)
        assert (entry["status"], entry["last_status_code"]) == ("pending", 503)
        (attempt,) = delivery_log.get(webhook_id, entry["id"])["attempts"]
        assert attempt["response_body"] == "maintenance"
        assert attempt["next_attempt_at"] is not None

        # the next attempt waits on the slow lane (the endpoint is failing), delayed until
        # it is due: a delayed message, not an in-flight one
        assert pipeline.messages() == []
        assert pipeline.count("slow", "ApproximateNumberOfMessagesDelayed") == 1
        deadline = time.monotonic() + 10
        while not (slow := pipeline.messages(lane="slow")):
            assert time.monotonic() < deadline
            time.sleep(0.1)
        assert [json.loads(m["body"])["delivery_id"] for m in slow] == [entry["id"]]
        assert json.loads(slow[0]["body"])["attempt"] == 2
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


@pytest.mark.parametrize("lane", ["main", "bursts"])
def test_deliveries_to_a_failing_endpoint_move_to_the_slow_lane(
        tenant: Tenant, receiver: Receiver, pipeline: Pipeline, lane: str) -> None:
    broken = Receiver(status=500).start()
    try:
        failing = subscribe(tenant, "service.created", broken.url, "f")
        healthy = subscribe(tenant, "service.created", receiver.url, "h")
        tenant.call("POST", "/v4/services", {"name": "A"})
        pipeline.fan_out(pipeline.stream_records())
        first = pipeline.messages()
        pipeline.deliver(first, lane=lane)  # both tried; the broken one fails once
        tenant.call("POST", "/v4/services", {"name": "B"})
        pipeline.fan_out(pipeline.stream_records())
        second = pipeline.messages()
        assert len(second) == 2
        assert pipeline.deliver(second, lane=lane) == {"batchItemFailures": []}
        assert len(receiver.requests) == 2  # the healthy endpoint got it in its lane
        assert len(broken.requests) == 1  # the failing one's delivery waits in the slow lane
        (moved,) = pipeline.messages(lane="slow")  # (the first one's retry is delayed)
        assert json.loads(moved["body"])["webhook_id"] == failing
        assert pipeline.deliver([moved], lane="slow") == {"batchItemFailures": []}
        assert len(broken.requests) == 2  # failed; its retry waits on the slow lane
        assert pipeline.count("slow", "ApproximateNumberOfMessagesDelayed") == 2
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
    (entry,) = logged(paused)
    assert entry["status"] == "failed"
    assert "pending_validation" in entry["last_error"]
    assert logged(gone) == []


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


@pytest.mark.parametrize("lane", ["main", "bursts", "slow"])
def test_a_copy_that_arrives_while_another_worker_sends_waits_on_the_queue(
        tenant: Tenant, receiver: Receiver, pipeline: Pipeline, lane: str) -> None:
    """Every lane's worker reads the log to tell "being sent" from "done" (the IAM test
    needs the calls of this branch from each function)."""
    subscribe(tenant, "service.created", receiver.url)
    tenant.call("POST", "/v4/services", {"name": "A"})
    pipeline.fan_out(pipeline.stream_records())
    (message,) = pipeline.messages()
    config = settings.get()
    # another worker holds the lease on this delivery
    assert delivery_log.claim(json.loads(message["body"]), 1, lease_seconds=60,
                              retention_days=config.delivery_log_retention_days,
                              token="another worker") is None
    # not sent, not kept in flight: back on its queue, delayed until the lease ends
    assert pipeline.deliver([message], lane=lane) == {"batchItemFailures": []}
    assert receiver.requests == []
    assert pipeline.count(lane, "ApproximateNumberOfMessagesDelayed") == 1


def slot_leases(webhook_id: int) -> list[float]:
    """The lease of each endpoint slot of the webhook that was ever taken (0: free)."""
    items = aws.dynamodb().scan(TableName=aws.table_name("rate_limits"))["Items"]
    return [float(item["lease_until"]["N"]) for item in items
            if item["bucket"]["S"].startswith(f"endpoint#{webhook_id}#")]


@pytest.mark.parametrize("changes", [2, 10])
def test_a_healthy_batch_costs_the_same_few_aws_calls_whatever_its_size(
        tenant: Tenant, receiver: Receiver, pipeline: Pipeline, changes: int,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(worker, "_success_writes", worker._Throttle(60))  # a new container
    webhook_id = subscribe(tenant, "service.created", receiver.url)
    for index in range(changes):
        tenant.call("POST", "/v4/services", {"name": f"S{index}"})
    pipeline.fan_out(pipeline.stream_records())
    messages = pipeline.messages()
    assert len(messages) == changes
    with Calls() as calls:
        assert pipeline.deliver(messages) == {"batchItemFailures": []}
    # one read of the webhooks; the attempts claimed, each with an endpoint slot, in one
    # transaction and recorded, the slots given back, in another; and the endpoint's
    # health, written once a minute while it stays healthy
    assert calls.made == {"BatchGetItem": 1, "TransactWriteItems": 2, "UpdateItem": 1}
    assert len(receiver.requests) == changes
    assert sorted((d["status"], d["attempt_count"]) for d in logged(webhook_id)) == \
        [("delivered", 1)] * changes
    leases = slot_leases(webhook_id)
    assert len(leases) == changes and set(leases) == {0}


def test_a_claim_the_batch_cannot_make_is_dealt_with_alone_and_the_rest_together(
        tenant: Tenant, receiver: Receiver, pipeline: Pipeline) -> None:
    webhook_id = subscribe(tenant, "service.created", receiver.url)
    for name in "ABC":
        tenant.call("POST", "/v4/services", {"name": name})
    pipeline.fan_out(pipeline.stream_records())
    messages = pipeline.messages()
    held = json.loads(messages[0]["body"])
    assert delivery_log.claim(held, 1, lease_seconds=60, token="another worker",
                              retention_days=30) is None
    with Calls() as calls:
        assert pipeline.deliver(messages) == {"batchItemFailures": []}
    # the claiming transaction, refused for the held delivery, then again without it;
    # the held delivery waits on the queue until that lease ends
    assert calls.made["TransactWriteItems"] == 3
    assert len(receiver.requests) == 2
    assert pipeline.count("main", "ApproximateNumberOfMessagesDelayed") == 1
    assert sorted(d["status"] for d in logged(webhook_id)) == \
        ["delivered", "delivered", "pending"]
    assert set(slot_leases(webhook_id)) == {0}


def test_a_batch_records_its_attempts_except_one_whose_delivery_another_worker_took(
        tenant: Tenant, receiver: Receiver, pipeline: Pipeline,
        monkeypatch: pytest.MonkeyPatch) -> None:
    webhook_id = subscribe(tenant, "service.created", receiver.url)
    for name in "AB":
        tenant.call("POST", "/v4/services", {"name": name})
    pipeline.fan_out(pipeline.stream_records())
    messages = pipeline.messages()
    lost = json.loads(messages[0]["body"])["delivery_id"]
    attempt = worker._attempt

    def attempt_outliving_its_lease(claimed: Any, config: Any) -> Any:
        made = attempt(claimed, config)
        if claimed.message["delivery_id"] == lost:  # meanwhile another worker took over
            aws.dynamodb().update_item(
                TableName=aws.table_name("deliveries"),
                Key={"webhook_id": {"N": str(webhook_id)}, "delivery_id": {"S": lost}},
                UpdateExpression="SET lease_token = :other",
                ExpressionAttributeValues={":other": {"S": "another worker"}})
        return made

    monkeypatch.setattr(worker, "_attempt", attempt_outliving_its_lease)
    assert pipeline.deliver(messages) == {"batchItemFailures": []}
    assert len(receiver.requests) == 2
    # the other attempt is recorded; the one whose delivery was taken over is not (its
    # result would overwrite the newer worker's), and no slot stays taken
    by_id = {d["id"]: d for d in logged(webhook_id)}
    assert by_id.pop(lost)["status"] == "pending"
    assert delivery_log.get(webhook_id, lost)["attempts"] == []
    ((_, recorded),) = by_id.items()
    assert (recorded["status"], recorded["attempt_count"]) == ("delivered", 1)
    assert set(slot_leases(webhook_id)) == {0}


def test_a_failed_health_write_fails_no_message_of_the_batch(
        tenant: Tenant, receiver: Receiver, pipeline: Pipeline,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(worker, "_success_writes", worker._Throttle(60))
    webhook_id = subscribe(tenant, "service.created", receiver.url)
    for name in "AB":
        tenant.call("POST", "/v4/services", {"name": name})
    pipeline.fan_out(pipeline.stream_records())

    def throttled(*_: Any, **__: Any) -> None:
        raise RuntimeError("ProvisionedThroughputExceededException")

    monkeypatch.setattr(subscriptions, "record_health", throttled)
    # the attempts are recorded before the health is: the messages are done
    assert pipeline.deliver(pipeline.messages()) == {"batchItemFailures": []}
    assert sorted(d["status"] for d in logged(webhook_id)) == ["delivered", "delivered"]
    assert set(slot_leases(webhook_id)) == {0}


def test_an_attempt_recorded_twice_is_kept_once(tenant: Tenant, receiver: Receiver,
                                                pipeline: Pipeline) -> None:
    """A record written again (a retry of a write whose answer was lost) fails its
    condition instead of appending the attempt a second time."""
    subscribe(tenant, "service.created", receiver.url)
    tenant.call("POST", "/v4/services", {"name": "A"})
    pipeline.fan_out(pipeline.stream_records())
    (message,) = pipeline.messages()
    body = json.loads(message["body"])
    assert delivery_log.claim(body, 1, lease_seconds=60, token="worker",
                              retention_days=30) is None
    entry = delivery_log.attempt_entry(1, "automatic", time.time(), 12, 200, None, "ok")
    assert delivery_log.record(body, entry, delivery_log.DELIVERED, token="worker")
    assert not delivery_log.record(body, entry, delivery_log.DELIVERED, token="worker")
    assert len(delivery_log.get(body["webhook_id"], body["delivery_id"])["attempts"]) == 1


def one_delivery(tenant: Tenant, receiver: Receiver,
                 pipeline: Pipeline) -> tuple[int, dict[str, Any]]:
    """A webhook, a change, its delivery: the webhook's id and the log entry."""
    webhook_id = subscribe(tenant, "service.created", receiver.url)
    tenant.call("POST", "/v4/services", {"name": "A"})
    pipeline.fan_out(pipeline.stream_records())
    pipeline.deliver(pipeline.messages())
    (entry,) = logged(webhook_id)
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


def first_attempt_fails(tenant: Tenant, pipeline: Pipeline, failing: Receiver,
                        monkeypatch: pytest.MonkeyPatch, schedule: str) -> tuple[int, str, Any]:
    """A delivery whose first attempt failed: webhook id, delivery id, its message."""
    monkeypatch.setenv("WEBHOOKS_RETRY_SCHEDULE", schedule)
    settings.get.cache_clear()
    webhook_id = subscribe(tenant, "service.created", failing.url)
    tenant.call("POST", "/v4/services", {"name": "A"})
    pipeline.fan_out(pipeline.stream_records())
    (message,) = pipeline.messages()
    assert pipeline.deliver([message]) == {"batchItemFailures": []}
    assert len(failing.wait_for(1)) == 1
    return webhook_id, json.loads(message["body"])["delivery_id"], message


def test_early_copies_neither_send_nor_start_a_second_schedule(
        tenant: Tenant, pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch) -> None:
    failing = Receiver(status=500).start()
    try:
        webhook_id, delivery_id, message = first_attempt_fails(
            tenant, pipeline, failing, monkeypatch, "60,60")
        # (copies for a failing endpoint end on the slow lane: they are read there)
        # a copy of the first message (SQS duplicates; a retried stream batch queues every
        # later record again) comes while the retry waits: dropped, nothing sent
        assert pipeline.deliver([message], lane="slow") == {"batchItemFailures": []}
        # a copy of the retry's own message, and one of an older version without a due
        # time, also arrive early: they wait on the queue, nothing is sent
        body = json.loads(message["body"])
        for copy in ({**body, "attempt": 2, "due_at": int(time.time()) + 60},
                     {k: v for k, v in body.items() if k not in ("v", "attempt", "due_at")}
                     | {"attempt": 2}):
            early = {**message, "messageId": f"copy-{len(copy)}", "body": json.dumps(copy)}
            assert pipeline.deliver([early], lane="slow") == {"batchItemFailures": []}
        time.sleep(0.3)
        assert len(failing.requests) == 1
        entry = delivery_log.get(webhook_id, delivery_id)
        assert (entry["status"], entry["attempt_count"]) == ("pending", 1)
        # the retry's own message and the two early copies wait, delayed, until it is due
        assert pipeline.count("slow", "ApproximateNumberOfMessagesDelayed") == 3
    finally:
        failing.stop()


def test_a_stale_worker_cannot_overwrite_a_newer_attempt(
        tenant: Tenant, receiver: Receiver, pipeline: Pipeline) -> None:
    subscribe(tenant, "service.created", receiver.url)
    tenant.call("POST", "/v4/services", {"name": "A"})
    pipeline.fan_out(pipeline.stream_records())
    (message,) = pipeline.messages()
    body = json.loads(message["body"])
    config = settings.get()
    # a worker claimed attempt 1 and hangs past its lease (a trickling receiver, a frozen
    # container) ...
    assert delivery_log.claim(body, 1, lease_seconds=-5, token="stale",
                              retention_days=config.delivery_log_retention_days) is None
    # ... so the message comes back, and this worker makes the next attempt
    assert pipeline.deliver([message]) == {"batchItemFailures": []}
    receiver.wait_for(1)
    # the stale worker's late result is refused: it cannot overwrite the newer attempt
    late = delivery_log.attempt_entry(1, "automatic", time.time(), 30000, None,
                                      "timeout", "")
    assert not delivery_log.record(body, late, delivery_log.FAILED, token="stale")
    entry = delivery_log.get(body["webhook_id"], body["delivery_id"])
    assert entry["status"] == "delivered"
    assert [(a["attempt"], a["status_code"]) for a in entry["attempts"]] == [(2, 200)]


def test_a_manual_redelivery_during_a_wait_neither_ends_nor_uses_the_schedule(
        tenant: Tenant, pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch) -> None:
    failing = Receiver(status=503).start()
    try:
        webhook_id, delivery_id, _ = first_attempt_fails(
            tenant, pipeline, failing, monkeypatch, "2")
        path = f"/v2/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver"
        assert tenant.call("POST", path).status_code == 202
        (manual,) = pipeline.messages()
        # (on the slow lane, where the main lane moves a failing endpoint's deliveries)
        assert pipeline.deliver([manual], lane="slow") == {"batchItemFailures": []}
        assert pipeline.deliver([manual], lane="slow") == {"batchItemFailures": []}  # a copy
        assert len(failing.wait_for(2)) == 2
        entry = delivery_log.get(webhook_id, delivery_id)
        assert entry["status"] == "pending"  # the failed manual attempt ended nothing
        # the automatic retry comes when it is due, as attempt 2 of the schedule
        deadline = time.monotonic() + 10
        while not (retry := pipeline.messages(lane="slow")):
            assert time.monotonic() < deadline
            time.sleep(0.1)
        assert pipeline.deliver(retry, lane="slow") == {"batchItemFailures": []}
        entry = delivery_log.get(webhook_id, delivery_id)
        assert [(a["trigger"], a["attempt"]) for a in entry["attempts"]] == \
            [("automatic", 1), ("manual", 1), ("automatic", 2)]
        assert (entry["status"], entry["attempt_count"]) == ("failed", 3)
        assert len(failing.requests) == 3
    finally:
        failing.stop()


def test_a_manual_attempt_whose_worker_died_is_made_when_its_message_comes_back(
        tenant: Tenant, receiver: Receiver, pipeline: Pipeline,
        monkeypatch: pytest.MonkeyPatch) -> None:
    webhook_id, entry = one_delivery(tenant, receiver, pipeline)
    path = f"/v2/webhooks/{webhook_id}/deliveries/{entry['id']}/redeliver"
    assert tenant.call("POST", path).status_code == 202
    (manual,) = pipeline.messages()
    # the worker dies after claiming the manual attempt, before sending and recording it
    send = worker._send
    monkeypatch.setattr(worker, "_send", lambda *args: (_ for _ in ()).throw(
        RuntimeError("the container died")))
    assert pipeline.deliver([manual]) == {"batchItemFailures": [
        {"itemIdentifier": manual["messageId"]}]}
    monkeypatch.setattr(worker, "_send", send)
    # its message comes back while the dead worker's lease lasts: it waits on the queue
    assert pipeline.deliver([manual]) == {"batchItemFailures": []}
    assert pipeline.count("main", "ApproximateNumberOfMessagesDelayed") == 1
    assert len(receiver.requests) == 1
    # once the lease (the deadline + 30 s) has run out, the message makes the attempt
    now = clock.now
    monkeypatch.setattr(clock, "now", lambda: now() + settings.get().delivery_timeout_seconds
                        + 35)
    assert pipeline.deliver([manual]) == {"batchItemFailures": []}
    assert receiver.wait_for(2)[1].headers["webhook-id"] == entry["id"]
    logged = delivery_log.get(webhook_id, entry["id"])
    assert [(a["trigger"], a["attempt"], a["status_code"]) for a in logged["attempts"]] == \
        [("automatic", 1, 200), ("manual", 1, 200)]
    # a copy of the message now finds the request made: nothing is sent again
    assert pipeline.deliver([manual]) == {"batchItemFailures": []}
    time.sleep(0.2)
    assert len(receiver.requests) == 2


def test_dead_lettered_manual_requests_end_as_failed_attempts_in_the_log(
        tenant: Tenant, receiver: Receiver, pipeline: Pipeline) -> None:
    webhook_id, entry = one_delivery(tenant, receiver, pipeline)
    assert tenant.call("POST", f"/v2/webhooks/{webhook_id}/test").status_code == 202
    path = f"/v2/webhooks/{webhook_id}/deliveries/{entry['id']}/redeliver"
    assert tenant.call("POST", path).status_code == 202
    messages = pipeline.messages()
    assert len(messages) == 2
    # both messages failed 20 receives (their workers crashed each time)
    dead = [{**m, "attributes": {"ApproximateReceiveCount": "20"}} for m in messages]
    for _ in range(2):  # a copy of a dead letter marks nothing twice
        assert pipeline.invoke("record_dead_letters", {"Records": dead}) == \
            {"batchItemFailures": []}
    (test,) = [d for d in logged(webhook_id) if d["test"]]
    test = delivery_log.get(webhook_id, test["id"])
    assert test["status"] == "failed"  # a test event has no schedule: it failed
    assert "dead-letter queue" in test["last_error"]
    assert [(a["trigger"], a["status_code"]) for a in test["attempts"]] == [("test", None)]
    redelivered = delivery_log.get(webhook_id, entry["id"])
    assert redelivered["status"] == "delivered"  # its own status stands
    assert [(a["trigger"], a["attempt"], a["status_code"])
            for a in redelivered["attempts"]] == [("automatic", 1, 200), ("manual", 1, None)]
    assert "20 receives" in redelivered["attempts"][-1]["error"]
    # should a copy of either message still come, it sends nothing
    assert pipeline.deliver(messages) == {"batchItemFailures": []}
    time.sleep(0.2)
    assert len(receiver.requests) == 1


def queued_bodies(pipeline: Pipeline, logical: str) -> list[str]:
    url = pipeline.infra.queues[logical]
    bodies = []
    while batch := aws.sqs().receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                             VisibilityTimeout=30).get("Messages", []):
        bodies += [m["Body"] for m in batch]
    return bodies


@pytest.mark.parametrize("lane", ["main", "bursts", "slow"])
def test_a_message_no_worker_can_read_goes_to_the_dead_letter_queue_whole(
        pipeline: Pipeline, lane: str) -> None:
    unreadable = {"messageId": "m-1", "receiptHandle": "r", "body": '{"delivery_id": 7}',
                  "attributes": {}}
    assert pipeline.deliver([unreadable], lane=lane) == {"batchItemFailures": []}
    assert queued_bodies(pipeline, "DeliveryDeadLetterQueue") == ['{"delivery_id": 7}']


def test_dead_letters_are_marked_failed_so_that_recover_finds_them(
        tenant: Tenant, receiver: Receiver, pipeline: Pipeline) -> None:
    webhook_id = subscribe(tenant, "service.created", receiver.url)
    tenant.call("POST", "/v4/services", {"name": "A"})
    pipeline.fan_out(pipeline.stream_records())
    (message,) = pipeline.messages()  # never attempted: its worker crashed every time
    dead = [{**message, "attributes": {"ApproximateReceiveCount": "20"}},
            {**message, "messageId": "garbage", "body": "{not json"}]
    assert pipeline.invoke("record_dead_letters", {"Records": dead}) == \
        {"batchItemFailures": []}
    (entry,) = logged(webhook_id)
    assert entry["status"] == "failed"
    assert "dead-letter queue" in entry["last_error"] and "20 receives" in entry["last_error"]
    since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 600))
    response = tenant.call("POST", f"/v2/webhooks/{webhook_id}/recover", {"since": since})
    assert response.status_code == 202
    assert pipeline.run_recoveries() == 1
    job_path = f"/v2/webhooks/{webhook_id}/recover/{response.json_body['data']['id']}"
    job = tenant.call("GET", job_path)
    assert (job.json_body["data"]["status"], job.json_body["data"]["queued"]) == ("done", 1)
    deliver_until_done(pipeline, pipeline.messages())
    assert len(receiver.wait_for(1)) == 1
    assert delivery_log.get(webhook_id, entry["id"])["status"] == "delivered"


def test_a_stream_record_the_fan_out_cannot_read_is_kept_whole_for_replay(
        tenant: Tenant, receiver: Receiver, pipeline: Pipeline) -> None:
    subscribe(tenant, "service.created", receiver.url)
    tenant.call("POST", "/v4/services", {"name": "A"})
    tenant.call("POST", "/v4/services", {"name": "B"})
    good, bad = pipeline.stream_records()
    bad["dynamodb"]["NewImage"]["company_id"] = {"N": "not a number"}
    # the unreadable record neither blocks the batch nor is retried for ever
    assert pipeline.fan_out([good, bad]) == {"batchItemFailures": []}
    assert len(pipeline.messages()) == 1
    (kept,) = queued_bodies(pipeline, "FanOutFailureQueue")
    assert json.loads(kept)["record"] == bad  # whole: replayable once the cause is fixed
    bad["dynamodb"]["NewImage"]["company_id"] = good["dynamodb"]["NewImage"]["company_id"]
    assert pipeline.fan_out([json.loads(kept)["record"] | {"dynamodb": bad["dynamodb"]}]) \
        == {"batchItemFailures": []}
    assert len(pipeline.messages()) == 1  # the replay queued the delivery


def test_a_stream_record_larger_than_a_message_is_kept_whole_in_parts(
        tenant: Tenant, receiver: Receiver, pipeline: Pipeline, tmp_path: Any,
        capsys: pytest.CaptureFixture[str]) -> None:
    subscribe(tenant, "service.created", receiver.url)
    for name in "AB":
        tenant.call("POST", "/v4/services", {"name": name})
    large, small = pipeline.stream_records()
    # both images of a large item (a long list of numbers: about 240 KB each in
    # DynamoDB, several times that as the record's JSON), and a field the fan-out cannot
    # read; beside it, a small unreadable record
    for image in ("NewImage", "OldImage"):
        large["dynamodb"][image] = {**large["dynamodb"]["NewImage"],
                                    "rates": {"L": [{"N": "7"}] * 60_000}}
    large["dynamodb"]["NewImage"]["company_id"] = {"N": "not a number"}
    small["dynamodb"]["NewImage"]["company_id"] = {"N": "not a number"}
    assert len(json.dumps(large)) > 4 * 256 * 1024
    # neither blocks the shard, nor is retried for ever: both are kept
    assert pipeline.fan_out([large, small]) == {"batchItemFailures": []}
    # the operator's view of the failure queue: both records, whole again
    event = tmp_path / "event.json"
    capsys.readouterr()
    assert admin.main(["kept-changes", "--event", str(event)]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert rows == [{"kept_record": r["eventID"],
                     "sequence_number": r["dynamodb"]["SequenceNumber"]}
                    for r in (large, small)]
    replay = json.loads(event.read_text())
    assert replay["Records"] == [large, small]
    # once the cause is fixed, the replayed records are fanned out
    for kept in replay["Records"]:
        kept["dynamodb"]["NewImage"]["company_id"] = {"N": str(tenant.company_id)}
    assert pipeline.fan_out(replay["Records"]) == {"batchItemFailures": []}
    assert len(pipeline.messages()) == 2


def test_an_endpoint_gets_at_most_its_concurrency_and_the_rest_wait_their_turn(
        tenant: Tenant, pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEBHOOKS_ENDPOINT_CONCURRENCY", "2")
    settings.get.cache_clear()
    slow = Receiver(delay=0.5).start()
    try:
        webhook_id = subscribe(tenant, "service.created", slow.url)
        for name in "ABCDEF":
            tenant.call("POST", "/v4/services", {"name": name})
        pipeline.fan_out(pipeline.stream_records())
        messages = pipeline.messages()
        assert len(messages) == 6
        # one batch, sent concurrently: two slots, the other four wait on the queue
        assert pipeline.deliver(messages) == {"batchItemFailures": []}
        assert (len(slow.requests), slow.most_in_flight) == (2, 2)
        assert pipeline.count("main", "ApproximateNumberOfMessagesDelayed") == 4
        # waiting is no attempt: the log has only the two that were sent
        log = logged(webhook_id)
        assert sorted((d["status"], d["attempt_count"]) for d in log) == \
            [("delivered", 1)] * 2
    finally:
        slow.stop()


def test_one_companys_burst_leaves_the_main_queue_to_the_other_companies(
        tenant: Tenant, other_tenant: Tenant, pipeline: Pipeline,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEBHOOKS_COMPANY_SHARE", "5")
    settings.get.cache_clear()
    busy, quiet = Receiver().start(), Receiver().start()
    try:
        for path in ("/a", "/b", "/c"):
            subscribe(tenant, "service.created", busy.url + path, token=f"tok{path}")
        subscribe(other_tenant, "service.created", quiet.url)
        for index in range(20):  # the first company's burst: 60 deliveries ...
            tenant.call("POST", "/v4/services", {"name": f"S{index}"})
        other_tenant.call("POST", "/v4/services", {"name": "Quiet"})  # ... then one change
        records = pipeline.stream_records()
        assert len(records) == 21
        assert pipeline.fan_out(records) == {"batchItemFailures": []}
        # the main queue holds the burst's share and the other company's delivery: one
        # batch of Lambda's poller brings that to its receiver, not the seventh
        main = pipeline.messages()
        assert len(main) == 6
        assert pipeline.deliver(main) == {"batchItemFailures": []}
        assert len(quiet.wait_for(1)) == 1
        # the rest of the burst is on the burst lane, and is delivered from there
        bursts = pipeline.messages(lane="bursts")
        assert len(bursts) == 55
        for start in range(0, len(bursts), 10):
            assert pipeline.deliver(bursts[start:start + 10], lane="bursts") == \
                {"batchItemFailures": []}
        assert len(busy.wait_for(60)) == 60
        assert len({(r.path, r.headers["webhook-id"]) for r in busy.requests}) == 60
    finally:
        busy.stop()
        quiet.stop()


def test_a_large_recovery_is_a_burst_too(tenant: Tenant, receiver: Receiver,
                                         pipeline: Pipeline,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEBHOOKS_COMPANY_SHARE", "1")
    settings.get.cache_clear()
    webhook_id = subscribe(tenant, "service.created", receiver.url)
    for name in "ABC":
        tenant.call("POST", "/v4/services", {"name": name})
    pipeline.fan_out(pipeline.stream_records())
    queued = pipeline.messages() + pipeline.messages(lane="bursts")
    assert len(queued) == 3
    dead = [{**m, "attributes": {"ApproximateReceiveCount": "20"}} for m in queued]
    assert pipeline.invoke("record_dead_letters", {"Records": dead}) == \
        {"batchItemFailures": []}
    since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 600))
    now = clock.now
    monkeypatch.setattr(clock, "now", lambda: now() + 2)  # a second of its own
    response = tenant.call("POST", f"/v2/webhooks/{webhook_id}/recover", {"since": since})
    assert response.status_code == 202
    assert pipeline.run_recoveries() == 1  # one step: its chunk of three is a burst
    # the company's share of the main queue in this second, the rest on the burst lane
    main, bursts = pipeline.messages(), pipeline.messages(lane="bursts")
    assert (len(main), len(bursts)) == (1, 2)
    deliver_until_done(pipeline, main)
    assert pipeline.deliver(bursts, lane="bursts") == {"batchItemFailures": []}
    assert len(receiver.wait_for(3)) == 3
    assert {d["status"] for d in logged(webhook_id)} == {"delivered"}
