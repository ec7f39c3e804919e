"""The fan-out: changed resources become one queued delivery per subscribed webhook.

Runs on batches of DynamoDB stream records. For each (company, event) in the batch it asks
the sparse index once for the active webhooks, and puts one message per (change, webhook)
on the delivery queue, ten per call; a company's deliveries beyond its share of the main
queue go to the burst lane (``fairness``). It never calls a receiver.

Delivery ids are derived from the stream record and the webhook, so a retried batch puts
the same ids on the queue again and the delivery worker sends each one once. A record
whose deliveries could not be queued is reported back (``batchItemFailures``): Lambda then
retries the stream from that record on.
"""
from __future__ import annotations

import hashlib
import time
from collections import defaultdict
from typing import Any

from chalicelib import budget_usage, events, observability, settings, subscriptions
from chalicelib.delivery import fairness, queue
from chalicelib.delivery import unreadable as unreadable_records
from chalicelib.events import Change

log = observability.logger


def delivery_id(change: Change, webhook_id: int) -> str:
    """``msg_`` + 12 hex digits of the change's time (so ids sort by time) + 20 of a hash
    of the stream record, the event and the webhook (so a retry yields the same id)."""
    digest = hashlib.sha256(
        f"{change.record_id}|{change.event_name}|{webhook_id}".encode()).hexdigest()
    return f"msg_{change.occurred_ms:012x}{digest[:20]}"


def message(change: Change, webhook_id: int) -> dict[str, Any]:
    """The queue message of one delivery: everything but what is read at send time
    (token, URL, status and secret, which the webhook may have changed meanwhile)."""
    return {
        "delivery_id": delivery_id(change, webhook_id),
        "company_id": change.company_id,
        "webhook_id": webhook_id,
        "event_name": change.event_name,
        "resource_type": change.resource_type,
        "resource_id": change.resource_id,
        "occurred_at": change.occurred_at,
        "trigger": "automatic",
        **({"payload": change.payload} if change.payload is not None else {}),
    }


def fan_out(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Queue the deliveries of a batch of stream records; report the records that failed."""
    failed: set[str] = set()
    changes: list[Change] = []
    unreadable: list[tuple[dict[str, Any], str]] = []
    for record in records:
        try:
            changes += events.derive(record)
        except Exception as exc:  # a record we cannot read must not block the shard forever
            log.exception("cannot derive events from a stream record",
                          extra={"event_id": record.get("eventID")})
            unreadable.append((record, f"{type(exc).__name__}: {exc}"[:1000]))
    failed.update(_keep_unreadable(unreadable))
    try:
        changes += budget_usage.notifications(records)
    except Exception:  # the stream retries the batch; usage and claims are idempotent
        log.exception("cannot count budget usage")
        failed.update(r["dynamodb"]["SequenceNumber"] for r in records)
    by_target: dict[tuple[int, str], list[Change]] = defaultdict(list)
    for change in changes:
        by_target[(change.company_id, change.event_name)].append(change)

    outgoing: list[tuple[Change, dict[str, Any]]] = []
    for (company_id, event_name), group in by_target.items():
        try:
            webhook_ids = subscriptions.active_webhook_ids(company_id, event_name)
        except Exception:
            log.exception("cannot look up webhooks", extra={"event_name": event_name,
                                                            "company_id": company_id})
            failed.update(c.sequence_number for c in group)
            continue
        outgoing += [(change, message(change, webhook_id))
                     for change in group for webhook_id in webhook_ids]

    refused = fairness.send([m for _, m in outgoing])
    failed.update(outgoing[index][0].sequence_number for index in refused)
    queued = len(outgoing) - len(refused)
    # the lag: how old the oldest change of the batch is when its deliveries are queued
    lag_ms = max((int(time.time() * 1000) - c.occurred_ms for c in changes), default=None)
    log.info("fan-out batch", extra={
        "records": len(records), "changes": len(changes), "deliveries_queued": queued,
        "records_failed": len(failed), "lag_ms": lag_ms})
    observability.count("FanOutRecords", len(records))
    observability.count("NotificationsQueued", queued)
    if lag_ms is not None:
        observability.count("FanOutLag", max(0, lag_ms), "Milliseconds")
    return {"batchItemFailures": [{"itemIdentifier": sequence}
                                  for sequence in _in_stream_order(records, failed)]}


def _in_stream_order(records: list[dict[str, Any]], failed: set[str]) -> list[str]:
    return [r["dynamodb"]["SequenceNumber"] for r in records
            if r["dynamodb"]["SequenceNumber"] in failed]


def _keep_unreadable(unreadable: list[tuple[dict[str, Any], str]]) -> list[str]:
    """Put each record the fan-out cannot read, whole (in parts when it is larger than a
    message), on the fan-out's failure queue, where an operator can replay it once the
    cause is fixed (README: runbook); return the sequence numbers of those that could
    not be put there whole (the stream retries them)."""
    if not unreadable:
        return []
    bodies: list[str] = []
    owners: list[int] = []  # the index in ``unreadable`` of each body's record
    for index, (record, error) in enumerate(unreadable):
        kept = unreadable_records.bodies(record, error)
        bodies += kept
        owners += [index] * len(kept)
    refused = {owners[i] for i in queue.send_bodies(bodies,
                                                    settings.get().fanout_failure_queue_name)}
    observability.count("UnreadableChanges", len(unreadable) - len(refused))
    return [unreadable[index][0]["dynamodb"]["SequenceNumber"] for index in sorted(refused)]
