"""What an operator sees of the running stack: JSON log lines that follow a delivery,
EMF metrics, no secret anywhere in the output, and API Gateway's answer to an unknown
route as the template configures it."""
from __future__ import annotations

import json
import time
from typing import Any

from tests.e2e.conftest import ApiUser, RunningStack, activate
from tests.receivers import Receiver


def _lines(stack: RunningStack) -> list[dict[str, Any]]:
    found = []
    for line in list(stack.output):
        if line.startswith("{"):
            try:
                found.append(json.loads(line))
            except ValueError:
                continue
    return found


def _wait_for_line(stack: RunningStack, wanted: Any, timeout: float = 10) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        for line in _lines(stack):
            if wanted(line):
                return line
        assert time.monotonic() < deadline, "no such log line"
        time.sleep(0.1)


def test_one_delivery_can_be_followed_through_the_logs_and_metrics(
        stack: RunningStack, company: ApiUser, receiver: Receiver) -> None:
    webhook = activate(company, receiver, "customer.created", path="/in?auth=pssst",
                       token="tok-Follow-Me-123")
    before = len(receiver.requests)
    customer = company.call("POST", "/v3/customers", {"name": "Logged GmbH"}).json()["data"]
    (notification,) = receiver.wait_for(before + 1)[before:]
    delivery_id = notification.headers["webhook-id"]

    attempt = _wait_for_line(stack, lambda line: line.get("message") == "delivery attempt"
                             and line.get("delivery_id") == delivery_id)
    assert attempt["function"] == "deliver_notifications"
    assert (attempt["webhook_id"], attempt["company_id"], attempt["event_name"]) == \
        (webhook["id"], company.company_id, "customer.created")
    assert (attempt["attempt"], attempt["outcome"], attempt["status_code"]) == \
        (1, "delivered", 200)
    assert attempt["duration_ms"] >= 0 and "reason" not in attempt
    batch = _wait_for_line(stack, lambda line: line.get("message") == "fan-out batch"
                           and line.get("deliveries_queued", 0) >= 1)
    assert batch["function"] == "fan_out_changes" and batch["lag_ms"] >= 0
    metrics = [line for line in _lines(stack) if "_aws" in line]
    names = {m["Name"] for line in metrics
             for group in line["_aws"]["CloudWatchMetrics"] for m in group["Metrics"]}
    assert {"NotificationsQueued", "FanOutRecords", "FanOutLag", "Attempts",
            "SuccessfulAttempts", "AttemptLatency", "ValidationRequests",
            "ApiRequests"} <= names
    assert customer["id"] == notification.json()["payload"]["customer"]["id"]

    # nothing secret in the whole output of the stack
    secret = company.call("GET", f"/v2/webhooks/{webhook['id']}/secret").json()["data"]
    # (the READY line hands the demo key to the person who started the stack, by design)
    output = "".join(line for line in stack.output if not line.startswith("READY "))
    validation = next(r for r in receiver.requests if "secret=" in r.path)
    validation_secret = validation.json()["secret"]
    for value in (company.api_key, stack.ready["api_key"], "tok-Follow-Me-123", "pssst",
                  secret["secret"], validation_secret):
        assert value not in output


def test_an_unknown_route_is_a_404_in_the_error_format(company: ApiUser) -> None:
    for method, path in (("GET", "/v2/nothing-here"), ("DELETE", "/v2/webhooks"),
                         ("GET", "/v9/users")):
        response = company.call(method, path)
        assert response.status_code == 404, (method, path, response.text)
        (error,) = response.json()["errors"]
        assert error["type"] == "NotFound"
        assert response.headers["Content-Type"] == "application/json"
