"""The delivery engine at scale, on the local stack as `make run` starts it: waiting
retries hold no in-flight message, one receiver never gets more than its concurrency, a
message from a newer version is delivered, and a stream record botocore cannot parse
stalls nothing."""
from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.conftest import (
    ApiUser,
    RunningStack,
    activate,
    aws_client,
    new_company,
    start_stack,
)
from tests.receivers import Receiver

CONCURRENCY = 3


@pytest.fixture(scope="module")
def stack() -> Iterator[RunningStack]:
    running = start_stack({
        "WEBHOOKS_RETRY_SCHEDULE": "120",  # a failed delivery waits two minutes
        "WEBHOOKS_ENDPOINT_CONCURRENCY": str(CONCURRENCY),
    })
    yield running
    running.stop()


@pytest.fixture
def user(stack: RunningStack) -> ApiUser:
    return new_company(stack, f"Engine {time.monotonic_ns()}", "enterprise")


def counts(stack: RunningStack, queue: str) -> dict[str, int]:
    sqs = aws_client(stack, "sqs")
    url = sqs.get_queue_url(QueueName=f"{stack.ready['tables_prefix']}-{queue}")["QueueUrl"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=[
        "ApproximateNumberOfMessagesNotVisible", "ApproximateNumberOfMessagesDelayed"])
    return {"in_flight": int(attributes["Attributes"]["ApproximateNumberOfMessagesNotVisible"]),
            "delayed": int(attributes["Attributes"]["ApproximateNumberOfMessagesDelayed"])}


def logged(user: ApiUser, webhook: dict[str, Any], count: int, status: str,
           timeout: float = 30) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while True:
        log = user.call("GET", f"/v2/webhooks/{webhook['id']}/deliveries").json()["data"]
        if len(log) == count and all(d["status"] == status for d in log):
            return list(log)
        assert time.monotonic() < deadline, log
        time.sleep(0.2)


def test_waiting_retries_hold_no_in_flight_message(stack: RunningStack, user: ApiUser) -> None:
    failing = Receiver().start()
    try:
        webhook = activate(user, failing, "service.created")
        failing.status = 500
        for index in range(10):
            assert user.call("POST", "/v4/services", {"name": f"S{index}"}).status_code == 200
        log = logged(user, webhook, 10, "pending")
        assert {d["attempt_count"] for d in log} == {1}
        time.sleep(1)
        # ten deliveries wait for their retry: ten delayed messages, none in flight
        assert counts(stack, "deliveries-slow") == {"in_flight": 0, "delayed": 10}
        assert counts(stack, "deliveries")["in_flight"] == 0
    finally:
        failing.stop()


def test_one_receiver_gets_at_most_its_concurrency(stack: RunningStack, user: ApiUser) -> None:
    slow = Receiver().start()
    try:
        webhook = activate(user, slow, "service.created")
        slow.delay = 0.3
        for index in range(20):
            assert user.call("POST", "/v4/services", {"name": f"S{index}"}).status_code == 200
        log = logged(user, webhook, 20, "delivered", timeout=60)
        assert {d["attempt_count"] for d in log} == {1}  # waiting a turn is no attempt
        assert slow.most_in_flight <= CONCURRENCY
    finally:
        slow.stop()


def test_a_message_with_a_field_this_worker_does_not_know_is_delivered(
        stack: RunningStack, user: ApiUser) -> None:
    receiver = Receiver().start()
    try:
        webhook = activate(user, receiver, "service.created")
        sqs = aws_client(stack, "sqs")
        url = sqs.get_queue_url(
            QueueName=f"{stack.ready['tables_prefix']}-deliveries")["QueueUrl"]
        # what a newer version, in the middle of a rolling deploy, would queue
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps({
            "v": 3, "priority": "high", "delivery_id": "msg_" + "0" * 12 + "1" * 20,
            "company_id": user.company_id, "webhook_id": webhook["id"],
            "event_name": "service.created", "resource_type": "service", "resource_id": 7,
            "occurred_at": "2026-01-01T00:00:00Z", "trigger": "automatic", "attempt": 1}))
        (delivery,) = logged(user, webhook, 1, "delivered")
        assert delivery["resource_id"] == 7
    finally:
        receiver.stop()


def test_a_stream_record_botocore_cannot_parse_stalls_nothing(
        stack: RunningStack, user: ApiUser) -> None:
    receiver = Receiver().start()
    try:
        webhook = activate(user, receiver, "service.created")
        # an item whose stream record moto serializes in a shape botocore rejects
        aws_client(stack, "dynamodb").put_item(
            TableName=f"{stack.ready['tables_prefix']}-resources",
            Item={"company_id": {"N": str(user.company_id)}, "sk": {"S": "odd#1"},
                  "budget": {"M": {"": {"N": "1"}}}})
        assert user.call("POST", "/v4/services", {"name": "after"}).status_code == 200
        logged(user, webhook, 1, "delivered")  # the change after it is delivered
    finally:
        receiver.stop()
