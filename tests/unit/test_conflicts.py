"""Writes that meet a transaction on the same item (DynamoDB answers
``TransactionConflictException``, which botocore does not retry and moto never answers)
are tried again, and a slot probe that fails leaves no reservation behind (pure: a fake
client stands in for DynamoDB)."""
from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from chalicelib import aws
from chalicelib.delivery import flow


class Conflicting:
    """An ``update_item`` that meets a transaction ``conflicts`` times, then writes."""

    def __init__(self, conflicts: int) -> None:
        self.conflicts = conflicts
        self.calls = 0

    def update_item(self, **_: Any) -> dict[str, Any]:
        self.calls += 1
        if self.calls <= self.conflicts:
            raise ClientError({"Error": {"Code": "TransactionConflictException",
                                         "Message": "in a transaction"}}, "UpdateItem")
        return {"Attributes": {}}


@pytest.fixture(autouse=True)
def no_pause(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(aws, "backoff_delay", lambda *_, **__: 0)
    monkeypatch.setattr(aws, "table_name", lambda name: name)


def test_a_write_that_meets_a_transaction_is_tried_again(
        monkeypatch: pytest.MonkeyPatch) -> None:
    client = Conflicting(conflicts=2)
    monkeypatch.setattr(aws, "dynamodb", lambda: client)
    assert aws.update_if(TableName="t", Key={}) == {"Attributes": {}}
    assert client.calls == 3


def test_a_write_that_keeps_meeting_transactions_fails_after_a_few_tries(
        monkeypatch: pytest.MonkeyPatch) -> None:
    client = Conflicting(conflicts=10)
    monkeypatch.setattr(aws, "dynamodb", lambda: client)
    with pytest.raises(ClientError):
        aws.update_if(TableName="t", Key={})
    assert client.calls == aws.CONFLICT_TRIES


def test_a_slot_probe_that_fails_leaves_no_reservation(
        monkeypatch: pytest.MonkeyPatch) -> None:
    client = Conflicting(conflicts=10)
    monkeypatch.setattr(aws, "dynamodb", lambda: client)
    monkeypatch.setattr(flow, "_held", {})
    with pytest.raises(ClientError):
        flow.acquire(41, 3, lease_seconds=30)
    assert flow._held == {}
