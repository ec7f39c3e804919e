"""Delivery reliability by fault injection: real receivers on loopback that fail in every
way a receiver can, on a local stack with a short retry schedule (1 s, 1 s: 3 attempts)."""
from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook as Verifier

from tests.e2e.conftest import (
    ApiUser,
    RunningStack,
    activate,
    new_company,
    start_stack,
    wait_until_queue_is_empty,
)
from tests.receivers import Received, Receiver

SCHEDULE = "1,1"
ATTEMPTS = 3
DISABLE_AFTER = 8  # longer than a timing-out delivery's 3 attempts (2 s each, 1 s apart)


@pytest.fixture(scope="module")
def stack() -> Iterator[RunningStack]:
    running = start_stack({
        "WEBHOOKS_RETRY_SCHEDULE": SCHEDULE,
        "WEBHOOKS_DELIVERY_TIMEOUT_SECONDS": "2",
        "WEBHOOKS_DISABLE_AFTER_SECONDS": str(DISABLE_AFTER),
        "LOCAL_QUEUE_VISIBILITY_TIMEOUT": "5",
    })
    yield running
    running.stop()


@pytest.fixture
def user(stack: RunningStack) -> ApiUser:
    return new_company(stack, f"Reliable {time.monotonic_ns()}", "enterprise")


def notifications(receiver: Receiver) -> list[Received]:
    return [r for r in receiver.requests if "secret=" not in r.path]


def wait_for_notifications(receiver: Receiver, count: int, timeout: float = 20) -> list[Received]:
    deadline = time.monotonic() + timeout
    while len(notifications(receiver)) < count:
        assert time.monotonic() < deadline, f"{len(notifications(receiver))} of {count}"
        time.sleep(0.05)
    return notifications(receiver)


def only_delivery(user: ApiUser, webhook: dict[str, Any], status: str,
                  timeout: float = 20) -> dict[str, Any]:
    """Wait until the webhook's one delivery has ``status``; return it with its attempts."""
    base = f"/v2/webhooks/{webhook['id']}/deliveries"
    deadline = time.monotonic() + timeout
    while True:
        log = user.call("GET", base).json()["data"]
        if log and log[0]["status"] == status:
            return dict(user.call("GET", f"{base}/{log[0]['id']}").json()["data"])
        assert time.monotonic() < deadline, log
        time.sleep(0.1)


def change(user: ApiUser) -> int:
    response = user.call("POST", "/v4/services", {"name": "S"})
    assert response.status_code == 200
    return int(response.json()["data"]["id"])


def test_500_500_then_200_is_delivered_on_attempt_3(user: ApiUser) -> None:
    receiver = Receiver().start()
    try:
        webhook = activate(user, receiver, "service.created")
        receiver.script = [(500, {}), (500, {})]
        change(user)
        first, second, third = wait_for_notifications(receiver, 3)
        delivery = only_delivery(user, webhook, "delivered")
        assert [a["status_code"] for a in delivery["attempts"]] == [500, 500, 200]
        assert delivery["attempt_count"] == 3
        assert first.headers["webhook-id"] == second.headers["webhook-id"] == \
            third.headers["webhook-id"] == delivery["id"]
        for request in (first, second, third):
            Verifier(webhook["signing_secret"]).verify(request.body, request.headers)
        assert 0.7 < second.received_at - first.received_at < 5  # 1 s ±20 %, then polling
        health = user.call("GET", f"/v2/webhooks/{webhook['id']}").json()["data"]
        assert health["consecutive_failures"] == 0
        assert health["last_success_at"] is not None
    finally:
        receiver.stop()


def test_a_receiver_that_never_recovers_gets_n_plus_1_attempts_then_recover(
        stack: RunningStack, user: ApiUser) -> None:
    receiver = Receiver().start()
    try:
        webhook = activate(user, receiver, "service.created")
        receiver.status = 500
        since = time.time() - 60
        change(user)
        delivery = only_delivery(user, webhook, "failed")
        assert [a["attempt"] for a in delivery["attempts"]] == list(range(1, ATTEMPTS + 1))
        wait_until_queue_is_empty(stack)  # nothing more is coming once it has failed
        assert len(notifications(receiver)) == ATTEMPTS

        receiver.status = 200  # the receiver is fixed
        iso = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(since))
        recovered = user.call("POST", f"/v2/webhooks/{webhook['id']}/recover", {"since": iso})
        assert recovered.status_code == 202, recovered.text
        job = f"/v2/webhooks/{webhook['id']}/recover/{recovered.json()['data']['id']}"
        requests = wait_for_notifications(receiver, ATTEMPTS + 1)  # its function ran it
        assert user.call("GET", job).json()["data"]["queued"] == 1
        assert len({r.headers["webhook-id"] for r in requests}) == 1
        delivery = only_delivery(user, webhook, "delivered")
        assert delivery["attempts"][-1]["trigger"] == "manual"
    finally:
        receiver.stop()


def test_recover_checks_its_input(user: ApiUser) -> None:
    receiver = Receiver().start()
    try:
        webhook = activate(user, receiver, "service.deleted")
        path = f"/v2/webhooks/{webhook['id']}/recover"
        for body, type_ in (({"since": "2000-01-01T00:00:00Z"}, "NotBetween"),
                            ({"since": "yesterday"}, "UnexpectedValue"),
                            ({}, "Empty"), ({"since": "2026-01-01", "x": 1}, "UnknownField")):
            response = user.call("POST", path, body)
            assert (response.status_code, response.json()["errors"][0]["type"]) == \
                (422, type_)
    finally:
        receiver.stop()


def test_connection_refused_and_timeouts_are_failures_that_retry(user: ApiUser) -> None:
    closed = Receiver().start()
    slow = Receiver().start()
    try:
        refused = activate(user, closed, "service.created", "/refused")
        timing_out = activate(user, slow, "service.created", "/slow")
        closed.stop()
        slow.delay = 3  # longer than the 2 s timeout
        change(user)
        refused_log = only_delivery(user, refused, "failed")
        assert len(refused_log["attempts"]) == ATTEMPTS
        errors = [(a["status_code"], a["error"]) for a in refused_log["attempts"]]
        assert all(code is None and error.startswith("connection failed")
                   for code, error in errors), errors
        slow_log = only_delivery(user, timing_out, "failed", timeout=30)
        assert len(slow_log["attempts"]) == ATTEMPTS
        assert all("timeout" in a["error"] for a in slow_log["attempts"])
    finally:
        slow.stop()


def test_a_redirect_is_a_failure_and_is_not_followed(user: ApiUser) -> None:
    target = Receiver().start()
    redirecting = Receiver().start()
    try:
        webhook = activate(user, redirecting, "service.created")
        redirecting.status, redirecting.headers = 302, {"Location": target.url + "/elsewhere"}
        change(user)
        delivery = only_delivery(user, webhook, "failed")
        assert [a["status_code"] for a in delivery["attempts"]] == [302] * ATTEMPTS
        assert target.requests == []
    finally:
        target.stop()
        redirecting.stop()


def test_410_gone_disables_the_webhook_until_it_is_validated_again(
        stack: RunningStack, user: ApiUser) -> None:
    receiver = Receiver().start()
    marker = Receiver().start()
    try:
        webhook = activate(user, receiver, "service.created")
        activate(user, marker, "service.created")
        receiver.status = 410
        change(user)
        delivery = only_delivery(user, webhook, "failed")
        assert [a["status_code"] for a in delivery["attempts"]] == [410]  # no retries
        state = user.call("GET", f"/v2/webhooks/{webhook['id']}").json()["data"]
        assert state["status"] == "disabled"
        assert "410" in state["disabled_reason"]

        receiver.status = 200
        change(user)  # disabled: nothing is sent, while the other webhook gets it
        wait_for_notifications(marker, 2)
        wait_until_queue_is_empty(stack)
        assert len(notifications(receiver)) == 1
        again = activate_existing(user, receiver, webhook["id"])
        assert (again["status"], again["disabled_reason"]) == ("active", None)
        change(user)
        wait_for_notifications(receiver, 2)
    finally:
        receiver.stop()
        marker.stop()


def activate_existing(user: ApiUser, receiver: Receiver, webhook_id: int) -> dict[str, Any]:
    before = len(receiver.requests)
    assert user.call("POST", f"/v2/webhooks/{webhook_id}/validate").status_code == 200
    secret = [r for r in receiver.requests[before:] if "secret=" in r.path][-1].json()["secret"]
    verified = user.call("POST", f"/v2/webhooks/{webhook_id}/verify", {"secret": secret})
    assert verified.status_code == 200, verified.text
    return dict(verified.json()["data"])


def test_429_with_retry_after_is_honoured(user: ApiUser) -> None:
    receiver = Receiver().start()
    try:
        webhook = activate(user, receiver, "service.created")
        receiver.script = [(429, {"Retry-After": "3"})]
        change(user)
        first, second = wait_for_notifications(receiver, 2)
        assert second.received_at - first.received_at >= 2.9  # not the schedule's 1 s
        delivery = only_delivery(user, webhook, "delivered")
        assert [a["status_code"] for a in delivery["attempts"]] == [429, 200]
    finally:
        receiver.stop()


def test_failing_without_a_break_for_too_long_disables(user: ApiUser) -> None:
    receiver = Receiver().start()
    try:
        webhook = activate(user, receiver, "service.created")
        receiver.status = 500
        change(user)
        only_delivery(user, webhook, "failed")  # 3 attempts over about 2 s
        time.sleep(DISABLE_AFTER)
        change(user)  # the streak is now older than WEBHOOKS_DISABLE_AFTER_SECONDS
        deadline = time.monotonic() + 20
        while (state := user.call("GET", f"/v2/webhooks/{webhook['id']}").json()["data"])[
                "status"] != "disabled":
            assert time.monotonic() < deadline, state
            time.sleep(0.1)
        assert "failed" in state["disabled_reason"]
        assert state["consecutive_failures"] >= ATTEMPTS + 1
    finally:
        receiver.stop()


def test_rotated_secrets_sign_side_by_side_for_the_grace_period(user: ApiUser) -> None:
    receiver = Receiver().start()
    try:
        webhook = activate(user, receiver, "service.created")
        old = webhook["signing_secret"]
        rotated = user.call("POST", f"/v2/webhooks/{webhook['id']}/secret/rotate").json()["data"]
        assert rotated["previous_secret"] == old and rotated["secret"] != old
        assert rotated["previous_secret_expires_at"] is not None
        shown = user.call("GET", f"/v2/webhooks/{webhook['id']}/secret").json()["data"]
        assert shown == rotated
        change(user)
        (request,) = wait_for_notifications(receiver, 1)
        assert request.headers["webhook-signature"].count("v1,") == 2
        Verifier(old).verify(request.body, request.headers)
        Verifier(rotated["secret"]).verify(request.body, request.headers)
    finally:
        receiver.stop()
