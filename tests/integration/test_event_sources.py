"""The local twin of Lambda's event source mappings (``local/event_sources.py``) enforces
what Lambda enforces: handler timeouts, concurrent batches up to MaximumConcurrency, the
stream mapping's bisect and retry limit, and records botocore cannot parse."""
from __future__ import annotations

import threading
import time
from typing import Any

import boto3

from chalicelib import admin, aws
from local import event_sources
from local.event_sources import QueuePoller, StreamPoller
from local.infra import LocalInfrastructure


def _queue(infra: LocalInfrastructure, messages: int) -> str:
    url = infra.queues["DeliveryQueue"]
    aws.sqs().set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": "30"})
    for start in range(0, messages, 10):
        aws.sqs().send_message_batch(QueueUrl=url, Entries=[
            {"Id": str(i), "MessageBody": f"m{i}"} for i in range(start, min(messages,
                                                                          start + 10))])
    return url


def test_a_handler_is_timed_out_and_its_batch_fails_as_a_whole(
        aws_backend: LocalInfrastructure) -> None:
    url = _queue(aws_backend, 3)
    poller = QueuePoller("slow", lambda event, context: time.sleep(3), aws.sqs(), url,
                         admin.LOCAL_REGION, timeout=0.5)
    started = time.monotonic()
    assert poller.poll_once()
    assert time.monotonic() - started < 2.5  # cut at the timeout, not after 3 s
    assert poller.timeouts == 1
    # nothing was deleted: the messages come back after their visibility timeout
    assert poller.counts() == {"visible": 0, "in_flight": 3, "delayed": 0}


def test_several_batches_of_one_queue_run_at_once_up_to_the_pollers(
        aws_backend: LocalInfrastructure) -> None:
    url = _queue(aws_backend, 40)
    seen: list[str] = []
    lock = threading.Lock()

    def handler(event: dict[str, Any], context: Any) -> None:
        time.sleep(0.4)
        with lock:
            seen.extend(r["body"] for r in event["Records"])

    poller = QueuePoller("busy", handler, aws.sqs(), url, admin.LOCAL_REGION,
                         batch_size=2)  # small batches: many invocations
    poller.start(3)
    deadline = time.monotonic() + 20
    while len(seen) < 40 and time.monotonic() < deadline:
        time.sleep(0.1)
    poller.stop()
    assert len(set(seen)) == 40
    assert poller.most_running == 3  # concurrently, and never more than allowed


def test_a_batch_larger_than_one_receive_is_gathered_within_the_batching_window(
        aws_backend: LocalInfrastructure) -> None:
    """Lambda hands a mapping with a batching window batches of up to its batch size
    (more than the 10 messages one ReceiveMessage returns); without one, what one
    receive found."""
    url = _queue(aws_backend, 35)
    batches: list[int] = []

    def handler(event: dict[str, Any], context: Any) -> None:
        batches.append(len(event["Records"]))

    gathering = QueuePoller("bursts", handler, aws.sqs(), url, admin.LOCAL_REGION,
                            batch_size=25, batching_window=1)
    assert gathering.poll_once()
    assert batches == [25]
    at_once = QueuePoller("main", handler, aws.sqs(), url, admin.LOCAL_REGION,
                          batch_size=25)
    assert at_once.poll_once()
    assert batches[1] <= 10
    # a window ends the gathering when the queue has no more
    started = time.monotonic()
    while gathering.poll_once():
        pass
    assert sum(batches) == 35
    assert time.monotonic() - started < 10


def test_the_template_sets_each_queue_mappings_concurrency() -> None:
    assert event_sources.mapping_settings("deliver_notifications")["ScalingConfig"] == \
        {"MaximumConcurrency": 50}
    assert event_sources.mapping_settings("deliver_bursts")["ScalingConfig"] == \
        {"MaximumConcurrency": 30}
    fan_out = event_sources.mapping_settings("fan_out_changes")
    assert fan_out["BisectBatchOnFunctionError"]
    # the fan-out reads a shard in lanes by company: one company's backlog of changes
    # holds up no other company's
    assert fan_out["ParallelizationFactor"] == 10
    assert event_sources.partition_key(fan_out) == "company_id"
    assert event_sources.lambda_timeout("deliver_notifications") == 60


def _stream(infra: LocalInfrastructure) -> tuple[Any, str]:
    streams = boto3.client("dynamodbstreams", region_name=admin.LOCAL_REGION)
    return streams, infra.resources_stream_arn


def _put(company: int, key: str, extra: dict[str, Any] | None = None) -> None:
    aws.dynamodb().put_item(TableName=aws.table_name("resources"), Item={
        "company_id": {"N": str(company)}, "sk": {"S": key}, **(extra or {})})


def test_a_failing_record_is_bisected_out_retried_a_few_times_then_skipped(
        aws_backend: LocalInfrastructure) -> None:
    for index in range(8):
        _put(1, f"item#{index}")
    handled: list[str] = []
    failures: list[dict[str, Any]] = []

    def handler(event: dict[str, Any], context: Any) -> None:
        keys = [r["dynamodb"]["Keys"]["sk"]["S"] for r in event["Records"]]
        if "item#5" in keys:
            raise RuntimeError("poisoned")
        handled.extend(keys)

    streams, arn = _stream(aws_backend)
    poller = StreamPoller("fan", handler, streams, arn, admin.LOCAL_REGION, batch_size=8,
                          max_retries=2, retry_delay=0, on_failure=failures.append)
    for _ in range(30):
        poller.poll_once()
    assert sorted(handled) == [f"item#{i}" for i in range(8) if i != 5]  # none stalled
    (failure,) = failures
    assert failure["batchSize"] == 1  # bisected down to the one record that fails


def test_a_record_botocore_cannot_parse_reaches_the_handler_raw(
        aws_backend: LocalInfrastructure) -> None:
    # what one accepted write once made moto's stream serve: a map with an empty key
    _put(1, "odd", {"budget": {"M": {"": {"N": "1"}}}})
    _put(1, "after")
    handled: list[str] = []

    def handler(event: dict[str, Any], context: Any) -> None:
        handled.extend(r["dynamodb"]["Keys"]["sk"]["S"] for r in event["Records"])

    streams, arn = _stream(aws_backend)
    poller = StreamPoller("fan", handler, streams, arn, admin.LOCAL_REGION)
    for _ in range(3):
        poller.poll_once()
    assert handled == ["odd", "after"]  # read, handed over, and the stream goes on


def test_lanes_of_a_stream_hold_up_no_other_partition_key(
        aws_backend: LocalInfrastructure) -> None:
    for index in range(3):
        _put(1, f"busy#{index}")  # the first company's backlog, each record slow ...
    _put(2, "quiet")  # ... then one change of another company
    handled: list[tuple[str, float]] = []
    lock = threading.Lock()

    def handler(event: dict[str, Any], context: Any) -> None:
        for record in event["Records"]:
            key = record["dynamodb"]["Keys"]["sk"]["S"]
            if key.startswith("busy"):
                time.sleep(0.5)
            with lock:
                handled.append((key, time.monotonic()))

    streams, arn = _stream(aws_backend)
    lanes = [StreamPoller("fan", handler, streams, arn, admin.LOCAL_REGION, batch_size=1,
                          partition_key="company_id", lane=lane, lanes=2)
             for lane in range(2)]
    started = time.monotonic()
    for poller in lanes:
        poller.start()
    deadline = time.monotonic() + 20
    while len(handled) < 4 and time.monotonic() < deadline:
        time.sleep(0.05)
    for poller in lanes:
        poller.stop()
    order = [key for key, _ in handled]
    assert sorted(order) == ["busy#0", "busy#1", "busy#2", "quiet"]  # each once
    assert [key for key in order if key.startswith("busy")] == \
        ["busy#0", "busy#1", "busy#2"]  # in order within the partition key
    quiet_at = dict(handled)["quiet"] - started
    assert quiet_at < 1.0  # not after the backlog's 1.5 s
