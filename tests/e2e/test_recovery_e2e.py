"""Crashes mid-batch and hanging receivers, on a local stack with faults injected:
every accepted change is delivered once, and a slow receiver holds up nobody."""
from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.e2e.conftest import (
    RunningStack,
    activate,
    new_company,
    start_stack,
    wait_until_queue_is_empty,
)
from tests.receivers import Receiver

DELIVERY_TIMEOUT = 3


@pytest.fixture(scope="module")
def faulty_stack() -> Iterator[RunningStack]:
    running = start_stack({
        "LOCAL_FAULTS": "fanout-crash,delivery-crash",
        "LOCAL_QUEUE_VISIBILITY_TIMEOUT": "2",
        "LOCAL_BATCHING_WINDOW_SECONDS": "0.5",
        "WEBHOOKS_DELIVERY_TIMEOUT_SECONDS": str(DELIVERY_TIMEOUT),
    })
    yield running
    running.stop()


def notifications(receiver: Receiver) -> list:
    return [r for r in receiver.requests if "secret=" not in r.path]


def wait_for_notifications(receiver: Receiver, count: int, timeout: float = 30) -> list:
    deadline = time.monotonic() + timeout
    while len(notifications(receiver)) < count:
        assert time.monotonic() < deadline, f"{len(notifications(receiver))} of {count}"
        time.sleep(0.05)
    return notifications(receiver)


def test_crashes_mid_batch_lose_nothing_and_duplicate_nothing(faulty_stack: RunningStack,
                                                              receiver: Receiver) -> None:
    user = new_company(faulty_stack, "Crashy", "enterprise")
    # three webhooks for one event: each change is one fan-out record and three deliveries
    webhooks = [activate(user, receiver, "service.created", f"/w{i}") for i in range(3)]
    start = threading.Barrier(8)

    def create(index: int) -> int:
        start.wait()
        response = user.call("POST", "/v4/services", {"name": f"S{index}"})
        assert response.status_code == 200
        return int(response.json()["data"]["id"])

    with ThreadPoolExecutor(8) as pool:
        services = list(pool.map(create, range(8)))
    arrived = wait_for_notifications(receiver, 24)
    wait_until_queue_is_empty(faulty_stack)
    assert {"FAULT fanout-crash", "FAULT delivery-crash"} <= \
        {line.split(":")[0] for line in faulty_stack.output}

    arrived = notifications(receiver)
    assert len(arrived) == 24  # 8 changes x 3 webhooks, each exactly once
    assert len({r.headers["webhook-id"] for r in arrived}) == 24
    got = {(r.path, r.json()["payload"]["service"]["id"]) for r in arrived}
    assert got == {(f"/w{i}", s) for i in range(3) for s in services}
    for webhook in webhooks:
        log = user.call("GET", f"/v2/webhooks/{webhook['id']}/deliveries").json()
        assert len(log["data"]) == 8 and log["paging"]["next_cursor"] is None
        assert {d["status"] for d in log["data"]} == {"delivered"}
        assert {d["attempt_count"] for d in log["data"]} == {1}


def test_a_hanging_receiver_does_not_hold_up_the_others(faulty_stack: RunningStack) -> None:
    fast = [Receiver().start() for _ in range(2)]
    hanging = Receiver().start()
    try:
        user = new_company(faulty_stack, "Mixed", "enterprise")
        webhooks = [activate(user, r, "team.created") for r in (*fast, hanging)]
        hanging.delay = DELIVERY_TIMEOUT * 3  # validation passed; from now on it hangs
        started = time.monotonic()
        assert user.call("POST", "/v3/teams", {"name": "T"}).status_code == 200
        for receiver in fast:
            wait_for_notifications(receiver, 1, timeout=DELIVERY_TIMEOUT)
        fast_done = time.monotonic() - started
        assert fast_done < DELIVERY_TIMEOUT  # they did not wait for the hanging one
        wait_for_notifications(hanging, 1)
        base = f"/v2/webhooks/{webhooks[2]['id']}/deliveries"
        deadline = time.monotonic() + 20
        while not (log := user.call("GET", base).json()["data"]) or \
                log[0]["last_error"] is None:
            assert time.monotonic() < deadline
            time.sleep(0.1)
        assert "timeout" in log[0]["last_error"]
        assert log[0]["status"] == "pending"  # it will be offered again
    finally:
        for receiver in (*fast, hanging):
            receiver.stop()
