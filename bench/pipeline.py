"""`make bench`: the pipeline's throughput, latency and AWS calls on the local stack.

Starts the local stack (as `make run` does) with room for 10 webhooks per event, points 10
webhooks of one event at 10 receivers on loopback, makes resource changes through the API
and prints:

- deliveries per second with the changes made as fast as 4 clients can, and the
  change-to-receipt latency p50 / p95 under that load and, separately, for changes made
  one at a time;
- the AWS calls the fan-out and delivery handlers make per delivered notification
  (counted by the embedded AWS endpoint, by function, action and table);
- all of it once with the company within its share of the main queue (batches of 10,
  sent at once), once beyond it (the dev stage's share of 2 a second: most deliveries go
  to the burst lane, whose batches of up to 50 are gathered for up to a second);
- the same with 10 % of the receivers hanging;
- in-flight SQS messages per delivery waiting for its retry (50 failing deliveries);
- 100 changes at once to one slow receiver: the most concurrent sends it saw;
- a second company's latency, one change every half second, first on its own, then
  during a burst of BENCH_BURST_CHANGES (200) changes to one company's 10 webhooks (2,000
  deliveries), side by side and as a ratio; and the most concurrent sends one of the
  bursting company's receivers saw (flow control);
- the import time of `app` against a bare `import boto3`.

A benchmark, not a test: it asserts nothing. Its figures depend on the machine; the README
gives the ones measured there. Settings: BENCH_CHANGES (default 100), BENCH_CLIENTS (4),
BENCH_ONLY (a comma-separated subset of healthy, beyond, hanging, waiting, one, burst,
import: run only those parts).
"""
from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.e2e.conftest import (  # noqa: E402
    ApiUser,
    activate,
    aws_client,
    new_company,
    start_stack,
)
from tests.receivers import Receiver  # noqa: E402

WEBHOOKS = 10
CHANGES = int(os.environ.get("BENCH_CHANGES", "100"))
CLIENTS = int(os.environ.get("BENCH_CLIENTS", "4"))
SINGLE_CHANGES = 10  # made one at a time, for the unloaded latency
BURST_CHANGES = int(os.environ.get("BENCH_BURST_CHANGES", "200"))
QUIET_CHANGES = 10  # the second company's changes with no burst, one every half second
WAITING = 50  # failing deliveries waiting for their retry
TIMEOUT = 5  # seconds a hanging receiver costs each of its deliveries
EVENT = "customer.created"

#: The functions whose calls are the pipeline's (the API's are not; the event source
#: mappings' own calls, made by Lambda, are made by none).
PIPELINE_FUNCTIONS = ("fan_out_changes", "deliver_notifications", "deliver_bursts",
                      "deliver_to_failing_endpoints")


class TimedReceiver(Receiver):
    """A receiver that notes when each notification arrived."""

    def arrivals(self) -> dict[int, float]:
        return {json.loads(r.body)["payload"]["customer"]["id"]: r.received_at
                for r in self.requests if "secret=" not in r.path}


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def calls(aws_endpoint: str, reset: bool = False) -> dict[str, int]:
    request = urllib.request.Request(aws_endpoint + "/_local/calls",  # noqa: S310 - loopback
                                     method="DELETE" if reset else "GET")
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        return dict(json.loads(response.read()))


def pipeline_calls(counts: dict[str, int]) -> dict[str, int]:
    """The calls made by the fan-out and delivery functions (the backend counts them by
    ``<function> <action> <table or queue>``)."""
    return {key: n for key, n in counts.items() if key.split(" ", 1)[0] in PIPELINE_FUNCTIONS}


def scenario(label: str, hanging_share: float, company_share: int | None) -> dict[str, Any]:
    """``company_share``: the deliveries a second a company may put on the main queue
    (``WEBHOOKS_COMPANY_SHARE``; None: the dev stage's 2, so that most go to the burst
    lane)."""
    stack = start_stack({"WEBHOOKS_PLAN_LIMITS": f"enterprise={WEBHOOKS}",
                         "WEBHOOKS_DELIVERY_TIMEOUT_SECONDS": str(TIMEOUT),
                         "WEBHOOKS_DELIVERY_CONNECT_TIMEOUT_SECONDS": "1",
                         **({"WEBHOOKS_COMPANY_SHARE": str(company_share)}
                            if company_share else {})})
    receivers = [TimedReceiver().start() for _ in range(WEBHOOKS)]
    try:
        user = ApiUser(stack.api, stack.ready["api_user"], stack.ready["api_key"],
                       stack.ready["company_id"])
        for receiver in receivers:
            activate(user, receiver, EVENT)
        hanging = receivers[:round(WEBHOOKS * hanging_share)]
        healthy = receivers[len(hanging):]
        for receiver in hanging:
            receiver.delay = TIMEOUT * 5
        changed_at: dict[int, float] = {}
        lock = threading.Lock()

        def change(index: int) -> None:
            started = time.monotonic()
            response = user.call("POST", "/v3/customers", {"name": f"Customer {index}"})
            with lock:
                changed_at[int(response.json()["data"]["id"])] = started

        def wait_for(count: int) -> None:
            deadline = time.monotonic() + 600
            while any(len(r.arrivals()) < count for r in receivers):
                if time.monotonic() > deadline:
                    raise SystemExit(f"{label}: deliveries did not all arrive")
                time.sleep(0.01)

        def latencies(ids: set[int]) -> list[float]:
            return [arrived - changed_at[cid] for r in healthy
                    for cid, arrived in r.arrivals().items() if cid in ids]

        for index in range(SINGLE_CHANGES):  # one at a time: the unloaded latency
            change(index)
            wait_for(index + 1)
        single = latencies(set(changed_at))

        calls(stack.ready["aws_endpoint"], reset=True)
        before = set(changed_at)
        began = time.monotonic()
        with ThreadPoolExecutor(CLIENTS) as pool:
            list(pool.map(change, range(SINGLE_CHANGES, SINGLE_CHANGES + CHANGES)))
        wait_for(SINGLE_CHANGES + CHANGES)
        loaded = latencies(set(changed_at) - before)
        finished = max(max(r.arrivals().values()) for r in healthy)
        time.sleep(0.5)  # let the last log writes land before counting
        counted = pipeline_calls(calls(stack.ready["aws_endpoint"]))
        delivered = CHANGES * len(healthy)
        return {
            "scenario": label,
            "changes": CHANGES,
            "webhooks_per_event": WEBHOOKS,
            "hanging_receivers": len(hanging),
            "deliveries_per_second": round(delivered / (finished - began), 1),
            "latency_under_load_p50_ms": round(percentile(loaded, 0.5) * 1000),
            "latency_under_load_p95_ms": round(percentile(loaded, 0.95) * 1000),
            "latency_one_at_a_time_p50_ms": round(percentile(single, 0.5) * 1000),
            "latency_one_at_a_time_p95_ms": round(percentile(single, 0.95) * 1000),
            "aws_calls_per_delivered_notification": round(
                sum(counted.values()) / (CHANGES * WEBHOOKS), 2),
            "aws_calls_by_action": dict(sorted(counted.items())),
        }
    finally:
        for receiver in receivers:
            receiver.stop()
        stack.stop()


def queue_counts(stack: Any) -> dict[str, int]:
    """In flight and delayed messages over the delivery queues."""
    sqs = aws_client(stack, "sqs")
    totals = {"in_flight": 0, "delayed": 0}
    for queue in ("deliveries", "deliveries-bursts", "deliveries-slow"):
        url = sqs.get_queue_url(QueueName=f"{stack.ready['tables_prefix']}-{queue}")[
            "QueueUrl"]
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=[
            "ApproximateNumberOfMessagesNotVisible",
            "ApproximateNumberOfMessagesDelayed"])["Attributes"]
        totals["in_flight"] += int(attributes["ApproximateNumberOfMessagesNotVisible"])
        totals["delayed"] += int(attributes["ApproximateNumberOfMessagesDelayed"])
    return totals


def waiting_retries() -> dict[str, Any]:
    """Deliveries that wait for their retry: how many in-flight messages they hold."""
    stack = start_stack({"WEBHOOKS_RETRY_SCHEDULE": "600"})
    failing = TimedReceiver().start()
    try:
        user = ApiUser(stack.api, stack.ready["api_user"], stack.ready["api_key"],
                       stack.ready["company_id"])
        webhook = activate(user, failing, EVENT)
        failing.status = 500
        with ThreadPoolExecutor(CLIENTS) as pool:
            list(pool.map(lambda i: user.call("POST", "/v3/customers", {"name": f"C{i}"}),
                          range(WAITING)))
        deadline = time.monotonic() + 300
        while True:
            log = user.call("GET", f"/v2/webhooks/{webhook['id']}/deliveries",
                            params={"items_per_page": 500}).json()["data"]
            if len(log) == WAITING and all(d["status"] == "pending" for d in log):
                break
            if time.monotonic() > deadline:
                raise SystemExit("waiting retries: the first attempts did not all fail")
            time.sleep(0.2)
        time.sleep(1)
        counts = queue_counts(stack)
        return {"scenario": "deliveries waiting for their retry", "waiting": WAITING,
                **counts, "in_flight_per_waiting_retry": round(counts["in_flight"] / WAITING,
                                                                3)}
    finally:
        failing.stop()
        stack.stop()


def one_receiver() -> dict[str, Any]:
    """100 changes as fast as 4 clients can, to one slow receiver: the most concurrent
    sends it sees (flow control: at most WEBHOOKS_ENDPOINT_CONCURRENCY, 10)."""
    stack = start_stack()
    receiver = TimedReceiver(delay=0.5).start()
    try:
        user = ApiUser(stack.api, stack.ready["api_user"], stack.ready["api_key"],
                       stack.ready["company_id"])
        activate(user, receiver, EVENT)
        with ThreadPoolExecutor(CLIENTS) as pool:
            list(pool.map(lambda i: user.call("POST", "/v3/customers", {"name": f"O{i}"}),
                          range(CHANGES)))
        deadline = time.monotonic() + 600
        while len(receiver.arrivals()) < CHANGES:
            if time.monotonic() > deadline:
                raise SystemExit("one receiver: deliveries did not all arrive")
            time.sleep(0.1)
        return {"scenario": "one slow receiver (0.5 s), 100 changes at once",
                "most_concurrent_sends_it_saw": receiver.most_in_flight}
    finally:
        receiver.stop()
        stack.stop()


def burst() -> dict[str, Any]:
    """A second company's latency with no burst, then during one company's burst."""
    stack = start_stack({"WEBHOOKS_PLAN_LIMITS": f"enterprise={WEBHOOKS}"})
    receivers = [TimedReceiver(delay=0.05).start() for _ in range(WEBHOOKS)]
    quiet = TimedReceiver().start()
    try:
        first = ApiUser(stack.api, stack.ready["api_user"], stack.ready["api_key"],
                        stack.ready["company_id"])
        second = new_company(stack, "Second GmbH", "enterprise")
        for receiver in receivers:
            activate(first, receiver, EVENT)
        activate(second, quiet, EVENT)
        changed_at: dict[int, float] = {}
        api_seconds: dict[int, float] = {}  # how long the change's own API call took

        def quiet_change() -> None:
            started = time.monotonic()
            response = second.call("POST", "/v3/customers", {"name": "Quiet"})
            customer = int(response.json()["data"]["id"])
            changed_at[customer] = started
            api_seconds[customer] = time.monotonic() - started

        def quiet_latencies(ids: set[int]) -> list[float]:
            return [arrived - changed_at[cid] for cid, arrived in quiet.arrivals().items()
                    if cid in ids]

        # the same trickle with no burst: the second company's latency on its own
        for _ in range(QUIET_CHANGES):
            quiet_change()
            time.sleep(0.5)
        deadline = time.monotonic() + 120
        while len(quiet.arrivals()) < QUIET_CHANGES:
            if time.monotonic() > deadline:
                raise SystemExit("burst: the second company's deliveries did not arrive")
            time.sleep(0.1)
        alone = quiet_latencies(set(changed_at))
        before = set(changed_at)

        bursting = threading.Event()
        bursting.set()

        def trickle() -> None:
            while bursting.is_set():
                quiet_change()
                time.sleep(0.5)

        trickler = threading.Thread(target=trickle, daemon=True)
        began = time.monotonic()
        trickler.start()
        with ThreadPoolExecutor(CLIENTS) as pool:
            list(pool.map(lambda i: first.call("POST", "/v3/customers", {"name": f"B{i}"}),
                          range(BURST_CHANGES)))
        deadline = time.monotonic() + 1200
        while any(len(r.arrivals()) < BURST_CHANGES for r in receivers):
            if time.monotonic() > deadline:
                raise SystemExit("burst: deliveries did not all arrive")
            time.sleep(0.1)
        finished = time.monotonic()
        bursting.clear()
        trickler.join()
        deadline = time.monotonic() + 120
        while len(quiet_latencies(set(changed_at) - before)) < len(changed_at) - len(before):
            if time.monotonic() > deadline:
                raise SystemExit("burst: the second company's deliveries did not arrive")
            time.sleep(0.1)
        during = quiet_latencies(set(changed_at) - before)
        during_api = [api_seconds[c] for c in set(changed_at) - before]
        alone_p50, alone_p95 = percentile(alone, 0.5), percentile(alone, 0.95)
        during_p50, during_p95 = percentile(during, 0.5), percentile(during, 0.95)
        return {
            "scenario": "a burst of one company, a trickle of another",
            "burst_deliveries": BURST_CHANGES * WEBHOOKS,
            "burst_seconds": round(finished - began, 1),
            "most_concurrent_sends_one_receiver_saw": max(r.most_in_flight
                                                          for r in receivers),
            "second_company_deliveries_alone": len(alone),
            "second_company_deliveries_during_burst": len(during),
            "second_company_alone_p50_ms": round(alone_p50 * 1000),
            "second_company_alone_p95_ms": round(alone_p95 * 1000),
            "second_company_during_burst_p50_ms": round(during_p50 * 1000),
            "second_company_during_burst_p95_ms": round(during_p95 * 1000),
            "during_burst_over_alone_p50": round(during_p50 / alone_p50, 1),
            "during_burst_over_alone_p95": round(during_p95 / alone_p95, 1),
            # the part of it the API call took, in the same process on the same cores
            "second_company_during_burst_api_call_p50_ms": round(
                percentile(during_api, 0.5) * 1000),
        }
    finally:
        for receiver in (*receivers, quiet):
            receiver.stop()
        stack.stop()


def import_times(statements: list[str], runs: int = 9) -> list[float]:
    """Median seconds a fresh interpreter spends on each statement, the runs interleaved
    so that both see the same machine."""
    env = {**os.environ, "AWS_DEFAULT_REGION": "eu-central-1"}
    samples: list[list[float]] = [[] for _ in statements]
    for _ in range(runs):
        for index, statement in enumerate(statements):
            code = f"import time; t = time.perf_counter(); {statement}; " \
                   "print(time.perf_counter() - t)"
            done = subprocess.run([sys.executable, "-c", code], cwd=ROOT,  # noqa: S603
                                  env=env, capture_output=True, text=True, check=True)
            samples[index].append(float(done.stdout))
    return [statistics.median(values) for values in samples]


def main() -> None:
    only = {part.strip() for part in os.environ.get("BENCH_ONLY", "").split(",")
            if part.strip()}

    def wanted(part: str) -> bool:
        return not only or part in only

    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}", flush=True)
    for part, label, hanging, company_share in (
            ("healthy", "healthy receivers, within the company's share (main queue)", 0.0,
             1000),
            ("beyond", "healthy receivers, beyond the company's share (burst lane)", 0.0,
             None),
            ("hanging", "10% of receivers hanging", 0.1, None)):
        if wanted(part):
            print(json.dumps(scenario(label, hanging, company_share)), flush=True)
    for part, run in (("waiting", waiting_retries), ("one", one_receiver), ("burst", burst)):
        if wanted(part):
            print(json.dumps(run()), flush=True)
    if wanted("import"):
        boto3_s, app_s = import_times(["import boto3", "import app"])
        print(json.dumps({"import_boto3_ms": round(boto3_s * 1000, 1),
                          "import_app_ms": round(app_s * 1000, 1),
                          "import_app_over_boto3": round(app_s / boto3_s, 2)}), flush=True)


if __name__ == "__main__":
    main()
