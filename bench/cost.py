"""`make bench`, part two: how the cost of reading grows with the data stored.

On one local stack, each figure is measured twice in the same run, with little and with
much data of the same kind stored beside it, and printed with their ratio:

- the fan-out of one change (in-process, against the stack's AWS endpoint), with 10 and
  with 100,000 stored webhooks of other events and companies (BENCH_OTHER_WEBHOOKS);
- the first page of a webhook's delivery log (``GET …/deliveries?items_per_page=50``, and
  5 a page with ``filter[status]=failed``), with 50 and with 20,000 log entries;
- the first page of customers (``GET /v3/customers?items_per_page=50``), with 50 and with
  5,000 customers.

Large data is written straight into the local tables (BatchWriteItem), as going through
the API would take too long. Each figure gives the items DynamoDB reads for it (what it
bills, counted from the responses of the calls made in-process) and moto's wall-clock
time; moto answers a query of an index by scanning the whole table, so its time grows with
the table where DynamoDB's does not. A benchmark, not a test: it asserts nothing.
"""
from __future__ import annotations

import json
import os
import secrets
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.e2e.conftest import (  # noqa: E402
    ApiUser,
    RunningStack,
    activate,
    aws_client,
    new_company,
    start_stack,
)
from tests.reads import items_read  # noqa: E402
from tests.receivers import Receiver  # noqa: E402

OTHER_WEBHOOKS = int(os.environ.get("BENCH_OTHER_WEBHOOKS", "100000"))
LOG_ENTRIES = 20_000
CUSTOMERS = 5_000
SAMPLES = 25


def median_ms(action: Callable[[], Any], samples: int = SAMPLES) -> float:
    """The median wall-clock milliseconds of ``action`` (after one warm-up)."""
    action()
    times = []
    for _ in range(samples):
        started = time.perf_counter()
        action()
        times.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(times), 2)


def write_all(dynamodb: Any, table: str, items: Iterator[dict[str, Any]]) -> int:
    """BatchWriteItem, 25 at a time, until moto has taken every item; how many."""
    batch: list[dict[str, Any]] = []
    written = 0

    def flush() -> None:
        requests = [{"PutRequest": {"Item": item}} for item in batch]
        while requests:
            response = dynamodb.batch_write_item(RequestItems={table: requests})
            requests = response.get("UnprocessedItems", {}).get(table, [])
        batch.clear()

    for item in items:
        batch.append(item)
        written += 1
        if len(batch) == 25:
            flush()
    if batch:
        flush()
    return written


def ratio(label: str, small: float, large: float, target: float, reads: tuple[int, int],
          **sizes: int) -> dict[str, Any]:
    """A figure: DynamoDB's items read (what it bills) and moto's wall-clock time, each
    with little and much data, and their ratios."""
    return {"figure": label, **sizes, "items_read": list(reads),
            "items_ratio": round(reads[1] / max(1, reads[0]), 2), "target": f"<= {target}",
            "small_ms": small, "large_ms": large, "time_ratio": round(large / small, 2)}


def fan_out_cost(stack: RunningStack, user: ApiUser, receiver: Receiver) -> dict[str, Any]:
    """One change's fan-out, timed in-process, before and after OTHER_WEBHOOKS more."""
    from chalicelib import aws
    from chalicelib.delivery import fanout
    from local.event_sources import stream_event_record

    activate(user, receiver, "customer.created")
    streams = aws_client(stack, "dynamodbstreams")
    arn = aws.dynamodb().describe_table(
        TableName=aws.table_name("resources"))["Table"]["LatestStreamArn"]
    shards = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]
    iterators = [streams.get_shard_iterator(StreamArn=arn, ShardId=s["ShardId"],
                                            ShardIteratorType="LATEST")["ShardIterator"]
                 for s in shards]
    user.call("POST", "/v3/customers", {"name": "Fan-out probe"})
    records = [stream_event_record(r, arn, "eu-central-1") for it in iterators
               for r in streams.get_records(ShardIterator=it)["Records"]]
    assert records, "no stream record for the probe change"
    run = lambda: fanout.fan_out(records)  # noqa: E731 - the same change, its same delivery
    small, small_reads = median_ms(run), items_read(run)
    table = aws.table_name("webhooks")
    events = ["project.created", "team.updated", "entry.started", "customer.created"]

    def others() -> Iterator[dict[str, Any]]:
        for index in range(OTHER_WEBHOOKS):
            company, event = 10_000_000 + index // 3, events[index % len(events)]
            yield aws.to_attributes({
                "company_id": company, "sk": f"webhook#{50_000_000 + index:015d}",
                "webhook_id": 50_000_000 + index, "event_name": event,
                "url": "https://example.com/hook", "token": "t", "status": "active",
                "active_key": f"{company}#{event}", "version": 1})

    started = time.monotonic()
    write_all(aws.dynamodb(), table, others())
    seeded_s = round(time.monotonic() - started, 1)
    large, large_reads = median_ms(run), items_read(run)
    return {**ratio("fan-out of one change", small, large, 1.2, (small_reads, large_reads),
                    stored_webhooks_small=1,
                    stored_webhooks_large=OTHER_WEBHOOKS + 1), "seeding_s": seeded_s}


def log_entries(company_id: int, webhook_id: int, count: int, start_ms: int
                ) -> Iterator[dict[str, Any]]:
    from chalicelib import aws
    from chalicelib.delivery import log as delivery_log

    for index in range(count):
        status = delivery_log.FAILED if index % 10 == 0 else delivery_log.DELIVERED
        yield aws.to_attributes({
            "webhook_id": webhook_id,
            "delivery_id": f"msg_{start_ms + index:012x}{secrets.token_hex(10)}",
            "company_id": company_id, "event_name": "customer.created",
            "resource_type": "customer", "resource_id": index + 1,
            "occurred_at": "2026-11-28T20:00:00Z", "created_at": "2026-11-28T20:00:00Z",
            "status": status, "status_key": delivery_log.status_key(webhook_id, status),
            "attempt_count": 1, "manual_count": 0, "test_event": False,
            "expires_at": int(time.time()) + 86400})


def log_cost(stack: RunningStack, user: ApiUser, receiver: Receiver) -> list[dict[str, Any]]:
    """The first page of a webhook's log, with 50 and with LOG_ENTRIES entries."""
    from chalicelib import aws
    from chalicelib.delivery import log as delivery_log

    small_hook = activate(user, receiver, "team.created")
    large_hook = activate(user, receiver, "team.updated")
    table = aws.table_name("deliveries")
    start = int((time.time() - 86400) * 1000)
    write_all(aws.dynamodb(), table, log_entries(user.company_id, small_hook["id"], 50, start))
    write_all(aws.dynamodb(), table,
              log_entries(user.company_id, large_hook["id"], LOG_ENTRIES, start))
    figures = []
    # one entry in ten is failed: a page of 5 failed ones is full with 50 entries too
    for label, query, size in (("first page of the log", "items_per_page=50", 50),
                               ("first page of the log's failed deliveries",
                                "items_per_page=5&filter%5Bstatus%5D=failed", 5)):
        def page(hook: dict[str, Any], q: str = query) -> Callable[[], Any]:
            def read() -> None:
                response = user.call("GET", f"/v2/webhooks/{hook['id']}/deliveries?{q}")
                assert response.status_code == 200, response.text
            return read
        status = "failed" if "failed" in query else None
        small_reads, large_reads = (
            items_read(lambda h=hook, s=status, n=size: delivery_log.page_for(
                h["id"], n, status=s))
            for hook in (small_hook, large_hook))
        figures.append(ratio(label, median_ms(page(small_hook)), median_ms(page(large_hook)),
                             1.5, (small_reads, large_reads), entries_small=50,
                             entries_large=LOG_ENTRIES))
    return figures


def customer_cost(stack: RunningStack) -> dict[str, Any]:
    """The first page of customers, for a company with 50 and one with CUSTOMERS."""
    from chalicelib import aws

    small = new_company(stack, f"Few customers {time.monotonic_ns()}", "enterprise")
    large = new_company(stack, f"Many customers {time.monotonic_ns()}", "enterprise")
    for user, count in ((small, 50), (large, CUSTOMERS)):
        _seed_customers(aws, user, count)

    def page(user: ApiUser) -> Callable[[], Any]:
        def read() -> None:
            response = user.call("GET", "/v3/customers?items_per_page=50")
            assert response.status_code == 200, response.text
        return read
    def in_process(user: ApiUser) -> Callable[[], Any]:
        from chalicelib import auth, resources, resources_api

        caller = auth.authenticate({"X-ClockodoApiUser": user.api_user,
                                    "X-ClockodoApiKey": user.api_key,
                                    "X-Clockodo-External-Application": "bench;b@example.com"})
        return lambda: resources_api.list_page(caller, resources.get("customer"),
                                               {"items_per_page": "50"})
    reads = (items_read(in_process(small)), items_read(in_process(large)))
    return ratio("first page of customers", median_ms(page(small)), median_ms(page(large)),
                 1.5, reads, customers_small=50, customers_large=CUSTOMERS)


def _seed_customers(aws: Any, user: ApiUser, count: int) -> None:
    from chalicelib import resource_store, resources

    customer = resources.get("customer")
    # a customer as the API writes it, then its copies with ids of a block of their own
    probe = user.call("POST", "/v3/customers", {"name": "Probe"}).json()["data"]
    data = {k: v for k, v in probe.items() if k != "id"}
    last = int(aws.dynamodb().update_item(  # a block of ids nobody else gets
        TableName=aws.table_name("counters"), Key={"name": {"S": "resource:customer"}},
        UpdateExpression="ADD #v :n", ExpressionAttributeNames={"#v": "value"},
        ExpressionAttributeValues={":n": {"N": str(count)}},
        ReturnValues="UPDATED_NEW")["Attributes"]["value"]["N"])
    first = last - count + 1
    items = (aws.to_attributes({
        "company_id": user.company_id, "sk": resource_store.sort_key(customer.name, first + i),
        "type": customer.name, "id": first + i, "data": {**data, "name": f"Customer {i}"},
        "version": 1, "changed_at": "2026-11-28T20:00:00Z"}) for i in range(count - 1))
    write_all(aws.dynamodb(), aws.table_name(resource_store.TABLE), items)


def main() -> None:
    stack = start_stack()
    from chalicelib import admin  # in-process calls go to the stack's AWS endpoint

    os.environ.update(admin.stage_environment("dev"))
    admin.use_local_stack(stack.ready["aws_endpoint"])
    receiver = Receiver().start()
    try:
        user = new_company(stack, f"Cost bench {time.monotonic_ns()}", "enterprise")
        for figure in log_cost(stack, user, receiver):
            print(json.dumps(figure), flush=True)
        print(json.dumps(customer_cost(stack)), flush=True)
        # last: moto's index queries (webhooks' token index included) scan the whole table,
        # so the API's own writes slow down once 100,000 webhooks are stored
        print(json.dumps(fan_out_cost(stack, user, receiver)), flush=True)
    finally:
        receiver.stop()
        stack.stop()


if __name__ == "__main__":
    main()
