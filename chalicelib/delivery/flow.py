"""Per-endpoint flow control: at most ``WEBHOOKS_ENDPOINT_CONCURRENCY`` sends in flight
to one webhook at once, across every worker and container.

A webhook has that many *slots*, items in the ``rate_limits`` table keyed
``endpoint#<webhook>#<n>``. A send first takes a free slot with one conditional write
(a slot is free when no one holds it or its lease ran out: a worker that dies cannot leak
one), and gives it back when done. A delivery that finds no free slot is not attempted:
it waits its turn on the queue (a short hop) without counting as a failed attempt and
without holding a worker. Slots are tried from a random start, so a busy endpoint costs
a few writes per look, and a quiet one a single write.
"""
from __future__ import annotations

import random
import uuid
from dataclasses import dataclass

from chalicelib import aws, clock

TABLE = "rate_limits"
PROBES = 3  # slots tried before waiting


@dataclass(frozen=True)
class Slot:
    """A slot this worker holds."""

    key: str
    token: str


def _key(webhook_id: int, index: int) -> str:
    return f"endpoint#{webhook_id}#{index}"


def acquire(webhook_id: int, concurrency: int, *, lease_seconds: float) -> Slot | None:
    """Take one of the webhook's ``concurrency`` slots for ``lease_seconds``; None when
    the ones tried are all held."""
    now = clock.now()
    token = uuid.uuid4().hex
    start = random.randrange(concurrency)
    for step in range(min(PROBES, concurrency)):
        key = _key(webhook_id, (start + step) % concurrency)
        taken = aws.update_if(
            TableName=aws.table_name(TABLE), Key={"bucket": {"S": key}},
            UpdateExpression="SET lease_until = :until, holder = :token, "
                             "expires_at = :expires",
            ConditionExpression="attribute_not_exists(lease_until) OR lease_until < :now",
            ExpressionAttributeValues={
                ":until": {"N": str(now + lease_seconds)}, ":token": {"S": token},
                ":expires": {"N": str(int(now + lease_seconds) + 86400)},
                ":now": {"N": str(now)}})
        if taken is not None:
            return Slot(key, token)
    return None


def release(slot: Slot) -> None:
    """Give the slot back (unless its lease ran out and another worker holds it now)."""
    aws.update_if(
        TableName=aws.table_name(TABLE), Key={"bucket": {"S": slot.key}},
        UpdateExpression="SET lease_until = :zero",
        ConditionExpression="holder = :token",
        ExpressionAttributeValues={":zero": {"N": "0"}, ":token": {"S": slot.token}})
