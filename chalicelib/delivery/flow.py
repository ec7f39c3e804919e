"""Per-endpoint flow control: at most ``WEBHOOKS_ENDPOINT_CONCURRENCY`` sends in flight
to one webhook at once, across every worker and container.

A webhook has that many *slots*, items in the ``rate_limits`` table keyed
``endpoint#<webhook>#<n>``. A send first takes a free slot with one conditional write
(a slot is free when no one holds it or its lease ran out: a worker that dies cannot leak
one), and gives it back when done. A delivery that finds no free slot is not attempted:
it waits its turn on the queue (a short hop) without counting as a failed attempt and
without holding a worker. Slots are tried from a random start, so a busy endpoint costs
a few writes per look, and a quiet one a single write. A container never tries the slots
it holds itself (the sends of one batch to one webhook take different slots at once), and
once it holds them all it knows, without a write, that the delivery waits. The worker's
batch path takes a slot, chosen with ``reserve``, in the same transaction as the attempt's
claim (``take_update``) and gives it back in the one that records it (``give_update``).
"""
from __future__ import annotations

import random
import threading
import uuid
from dataclasses import dataclass
from typing import Any

from chalicelib import aws, clock

TABLE = "rate_limits"
PROBES = 3  # slots tried before waiting

#: The slots this container holds or is taking now, by webhook.
_held: dict[int, set[int]] = {}
_held_lock = threading.Lock()


@dataclass(frozen=True)
class Slot:
    """A slot this worker holds."""

    key: str
    token: str
    webhook_id: int = 0
    index: int = 0


def _reserve(webhook_id: int, index: int) -> bool:
    """Mark a slot as this container's to try; False when it holds or tries it already."""
    with _held_lock:
        held = _held.setdefault(webhook_id, set())
        if index in held:
            return False
        held.add(index)
        return True


def _unreserve(webhook_id: int, index: int) -> None:
    with _held_lock:
        held = _held.get(webhook_id, set())
        held.discard(index)
        if not held:
            _held.pop(webhook_id, None)


def _key(webhook_id: int, index: int) -> str:
    return f"endpoint#{webhook_id}#{index}"


def acquire(webhook_id: int, concurrency: int, *, lease_seconds: float) -> Slot | None:
    """Take one of the webhook's ``concurrency`` slots for ``lease_seconds``; None when
    the ones tried are all held."""
    with _held_lock:
        held = set(_held.get(webhook_id, ()))
    free = [index for index in range(concurrency) if index not in held]
    if not free:
        return None  # this container holds every slot: no write can find one free
    start = random.randrange(len(free))
    for index in (free[start:] + free[:start])[:PROBES]:
        if not _reserve(webhook_id, index):
            continue  # another thread of this container took it meanwhile
        slot = Slot(_key(webhook_id, index), uuid.uuid4().hex, webhook_id, index)
        taken = False
        try:
            taken = aws.update_if(**take_update(slot, lease_seconds)) is not None
        finally:
            if not taken:
                _unreserve(webhook_id, index)
        if taken:
            return slot
    return None


def reserve(webhook_id: int, concurrency: int) -> Slot | None:
    """A slot this container does not hold, chosen at random and reserved for it, to be
    taken with ``take_update`` in a batch's transaction (``worker``) and then either
    released or ``forget``-ed; None when the container holds every slot."""
    with _held_lock:
        held = _held.setdefault(webhook_id, set())
        free = [index for index in range(concurrency) if index not in held]
        if not free:
            if not held:
                _held.pop(webhook_id, None)
            return None
        index = random.choice(free)
        held.add(index)
    return Slot(_key(webhook_id, index), uuid.uuid4().hex, webhook_id, index)


def forget(slot: Slot) -> None:
    """Drop the reservation of a slot that was not taken."""
    _unreserve(slot.webhook_id, slot.index)


def take_update(slot: Slot, lease_seconds: float) -> dict[str, Any]:
    """The conditional ``UpdateItem`` that takes ``slot`` (when no one holds it, or its
    lease ran out) until ``lease_seconds`` from now."""
    now = clock.now()
    return {
        "TableName": aws.table_name(TABLE), "Key": {"bucket": {"S": slot.key}},
        "UpdateExpression": "SET lease_until = :until, holder = :token, expires_at = :expires",
        "ConditionExpression": "attribute_not_exists(lease_until) OR lease_until < :now",
        "ExpressionAttributeValues": {
            ":until": {"N": str(now + lease_seconds)}, ":token": {"S": slot.token},
            ":expires": {"N": str(int(now + lease_seconds) + 86400)},
            ":now": {"N": str(now)}},
    }


def give_update(slot: Slot) -> dict[str, Any]:
    """The ``UpdateItem`` that gives the slot back, unless its lease ran out and another
    worker holds it now (then its condition fails)."""
    return {
        "TableName": aws.table_name(TABLE), "Key": {"bucket": {"S": slot.key}},
        "UpdateExpression": "SET lease_until = :zero",
        "ConditionExpression": "holder = :token",
        "ExpressionAttributeValues": {":zero": {"N": "0"}, ":token": {"S": slot.token}},
    }


def release(slot: Slot) -> None:
    """Give the slot back (unless its lease ran out and another worker holds it now)."""
    try:
        aws.update_if(**give_update(slot))
    finally:
        _unreserve(slot.webhook_id, slot.index)
