"""The stores against moto: the fan-out's index, optimistic versions, companies and keys."""
from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from chalicelib import admin, auth, aws, companies, subscriptions
from chalicelib.errors import Conflict, NotFound, Unauthenticated
from chalicelib.plans import limit_reached
from tests.reads import Calls


def limit_error() -> Exception:
    return limit_reached("customer", "basic", 2)


def new(company_id: int, event: str, token: str, limit: int = 3) -> subscriptions.Webhook:
    return subscriptions.create(company_id, event, "http://127.0.0.1/", token, limit=limit,
                                on_limit=limit_error)


def activate(webhook: subscriptions.Webhook) -> subscriptions.Webhook:
    return subscriptions.save(webhook, replace(webhook, status=subscriptions.ACTIVE))


def test_active_webhooks_of_a_company_for_an_event_come_from_one_index_query() -> None:
    a = activate(new(1, "customer.created", "a"))
    activate(new(1, "customer.updated", "b"))
    new(1, "customer.created", "c")  # pending: not in the index
    activate(new(2, "customer.created", "d"))  # another company
    assert subscriptions.active_webhook_ids(1, "customer.created") == [a.webhook_id]


def test_the_active_index_holds_no_secrets() -> None:
    webhook = activate(new(1, "customer.created", "a-token"))
    assert webhook.signing_secret
    items = aws.dynamodb().query(
        TableName=aws.table_name("webhooks"), IndexName=subscriptions.ACTIVE_INDEX,
        KeyConditionExpression="active_key = :k",
        ExpressionAttributeValues={":k": {"S": "1#customer.created"}})["Items"]
    assert len(items) == 1
    # keys only: no signing secret, validation hash, token or URL
    assert set(items[0]) == {"company_id", "sk", "active_key", "webhook_id"}


def test_leaving_active_leaves_the_index() -> None:
    webhook = activate(new(1, "team.created", "a"))
    subscriptions.save(webhook, replace(webhook, status=subscriptions.DISABLED))
    assert subscriptions.active_webhook_ids(1, "team.created") == []


def test_a_stale_version_is_a_conflict_not_a_lost_update() -> None:
    webhook = new(1, "team.created", "a")
    subscriptions.save(webhook, replace(webhook, status=subscriptions.ACTIVE))
    with pytest.raises(Conflict):
        subscriptions.save(webhook, replace(webhook, token="stale"))
    with pytest.raises(Conflict):
        subscriptions.delete(webhook)
    assert subscriptions.get(1, webhook.webhook_id).status == subscriptions.ACTIVE


def test_the_limit_holds_in_the_store_itself() -> None:
    new(1, "customer.created", "a", limit=2)
    new(1, "customer.updated", "b", limit=2)
    with pytest.raises(type(limit_error())):
        new(1, "customer.deleted", "c", limit=2)
    assert subscriptions.usage(1) == {"customer": 2}
    assert [w.token for w in subscriptions.list_for(1)] == ["a", "b"]


def test_get_is_scoped_to_the_company() -> None:
    webhook = new(1, "team.created", "a")
    with pytest.raises(NotFound):
        subscriptions.get(2, webhook.webhook_id)


def test_companies_and_plans() -> None:
    company = companies.create("Acme", "basic")
    assert companies.get(company.company_id) == company
    assert companies.set_plan(company.company_id, "pro").plan == "pro"
    with pytest.raises(NotFound):
        companies.set_plan(999, "pro")
    second = companies.create("Beta", "trial")
    assert second.company_id == company.company_id + 1
    assert [c.company_id for c in companies.list_all()] == [company.company_id,
                                                              second.company_id]


def headers(user: str, key: str) -> dict[str, str]:
    return {auth.USER_HEADER: user, auth.KEY_HEADER: key,
            auth.EXTERNAL_APPLICATION_HEADER: "tests;dev@example.com"}


def test_keys_authenticate_until_revoked_and_are_stored_hashed() -> None:
    created = admin.create_company("Acme", "pro", "Owner@Acme.example")
    assert created["api_user"] == "owner@acme.example"
    caller = auth.authenticate(headers("owner@acme.example", created["api_key"]))
    assert caller.company.company_id == created["company_id"]

    second = auth.issue_key(created["company_id"], "owner@acme.example")
    assert auth.authenticate(headers("OWNER@acme.example", second.api_key)).company.plan == "pro"
    listed = auth.list_keys("owner@acme.example")
    assert {k["key_id"] for k in listed} == {created["key_id"], second.key_id}
    assert all("key_hash" not in k and "api_key" not in k for k in listed)
    stored = auth._keys_of("owner@acme.example")
    assert all(created["api_key"] not in str(item) for item in stored)

    auth.revoke_key("owner@acme.example", created["key_id"])
    with pytest.raises(Unauthenticated):
        auth.authenticate(headers("owner@acme.example", created["api_key"]))
    assert auth.authenticate(headers("owner@acme.example", second.api_key))
    with pytest.raises(NotFound):
        auth.revoke_key("owner@acme.example", created["key_id"])


def test_a_key_only_opens_its_own_user() -> None:
    a = admin.create_company("A", "pro", "a@a.example")
    admin.create_company("B", "pro", "b@b.example")
    with pytest.raises(Unauthenticated):
        auth.authenticate(headers("b@b.example", a["api_key"]))


def test_an_email_belongs_to_one_company() -> None:
    a = admin.create_company("A", "pro", "shared@example.com")
    b = admin.create_company("B", "pro", "other@example.com")
    with pytest.raises(Conflict):
        auth.issue_key(b["company_id"], "shared@example.com")
    assert auth.issue_key(a["company_id"], "shared@example.com").company_id == a["company_id"]


def test_ids_come_in_blocks_so_a_counter_takes_one_write_per_block() -> None:
    """No global hot key: 250 ids cost 3 writes of the counter item, not 250; another
    container (its blocks forgotten) continues after the last block taken."""
    ids = [aws.next_id("resource:customer", block=100) for _ in range(250)]
    assert ids == list(range(1, 251))

    def counter() -> int:
        item = aws.dynamodb().get_item(TableName=aws.table_name("counters"),
                                       Key={"name": {"S": "resource:customer"}})["Item"]
        return int(item["value"]["N"])

    assert counter() == 300
    aws._blocks.clear()  # a second container
    assert aws.next_id("resource:customer", block=100) == 301
    assert counter() == 400
    assert aws.next_id("company") == 1  # counters without blocks count one by one
    assert aws.next_id("company") == 2


def test_concurrent_containers_never_share_an_id() -> None:
    from concurrent.futures import ThreadPoolExecutor

    def container(_: int) -> list[int]:
        return [aws.next_id("resource:entry", block=7) for _ in range(20)]

    with ThreadPoolExecutor(4) as pool:
        ids = [i for batch in pool.map(container, range(8)) for i in batch]
    assert len(ids) == len(set(ids)) == 160


def test_a_container_never_tries_the_endpoint_slots_it_holds(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from chalicelib.delivery import flow

    writes: list[str] = []
    update_if = aws.update_if

    def counted(**kwargs: object) -> object:
        writes.append(str(kwargs["Key"]))
        return update_if(**kwargs)

    monkeypatch.setattr(aws, "update_if", counted)
    first = flow.acquire(7, 2, lease_seconds=30)
    second = flow.acquire(7, 2, lease_seconds=30)
    assert first is not None and second is not None and first.key != second.key
    assert len(writes) == 2  # one write each: the second never tried the first's slot
    # holding both, the container knows without a write that the endpoint is at its limit
    assert flow.acquire(7, 2, lease_seconds=30) is None
    assert len(writes) == 2
    flow.release(first)
    third = flow.acquire(7, 2, lease_seconds=30)
    assert third is not None and third.key == first.key
    assert len(writes) == 4  # the release, and one write to take the slot given back
    # another container (another process) still finds both taken, probing the table
    monkeypatch.setattr(flow, "_held", {})
    assert flow.acquire(7, 2, lease_seconds=30) is None
    assert len(writes) == 6
    for slot in (second, third):
        flow.release(slot)


def test_independent_groups_are_written_with_a_transaction_per_100_actions() -> None:
    """``aws.transact_groups``: 60 groups of 2 actions take 2 transactions, and one more
    for the first again without the group whose condition fails, which writes nothing."""
    table = aws.table_name("rate_limits")

    def put(key: str, condition: str | None = None) -> dict[str, Any]:
        action: dict[str, Any] = {"TableName": table, "Item": {"bucket": {"S": key}}}
        if condition:
            action["ConditionExpression"] = condition
            action["ExpressionAttributeNames"] = {"#key": "bucket"}
        return {"Put": action}

    aws.dynamodb().put_item(TableName=table, Item={"bucket": {"S": "group-test#7b"}})
    groups = [[put(f"group-test#{n}a"),
               put(f"group-test#{n}b", "attribute_not_exists(#key)")] for n in range(60)]
    with Calls() as calls:
        written = aws.transact_groups(groups)
    assert written == [n != 7 for n in range(60)]
    assert calls.made == {"TransactWriteItems": 3}
    stored = {item["bucket"]["S"] for item in
              aws.dynamodb().scan(TableName=table)["Items"]}
    assert "group-test#7a" not in stored
    assert {f"group-test#{n}{part}" for n in range(60) for part in "ab"} - stored == \
        {"group-test#7a"}


def test_a_companys_few_deliveries_cost_no_count_until_a_quarter_of_its_share(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """``fairness``: up to a quarter of the share a second stays in the container, with no
    write; the first write of the second counts those too."""
    from chalicelib import clock
    from chalicelib.delivery import fairness

    monkeypatch.setattr(fairness, "_uncounted", {})
    monkeypatch.setattr(clock, "now", lambda: 1_000_000.5)
    with Calls() as calls:
        assert fairness.main_lane_allowance(7, 5, 40) == 5
        assert fairness.main_lane_allowance(7, 5, 40) == 5
    assert calls.made == {}
    with Calls() as calls:  # 10 kept and 35 more: 45 in the second, of a share of 40
        assert fairness.main_lane_allowance(7, 35, 40) == 30
    assert calls.made == {"UpdateItem": 1}
    item = aws.dynamodb().get_item(TableName=aws.table_name("rate_limits"),
                                   Key={"bucket": {"S": "company#7#1000000"}})["Item"]
    assert item["queued"] == {"N": "45"}
    with Calls() as calls:  # once counted in a second, the rest of it is counted too
        assert fairness.main_lane_allowance(7, 1, 40) == 0
    assert calls.made == {"UpdateItem": 1}
    # in the next second, the container keeps a few to itself again
    monkeypatch.setattr(clock, "now", lambda: 1_000_001.5)
    with Calls() as calls:
        assert fairness.main_lane_allowance(7, 10, 40) == 10
    assert calls.made == {}
