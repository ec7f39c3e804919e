"""The dead-letter queue's handler: what could not be delivered is marked so, never lost.

A message reaches the dead-letter queue when it failed ``maxReceiveCount`` receives (a
worker crashed or timed out on it again and again), or at once when no version of the
worker can read it. Each one is logged whole at ERROR level and counted (``DeadLetters``,
which the ``DeadLettersAlarm`` watches); an automatic delivery's log entry becomes
``failed`` with the reason (created if it was never attempted), so ``recover`` finds it.
A manual request's (redelivery, recovery, test event) becomes a failed manual attempt
with the reason: a test event is then ``failed``, a delivery with an automatic schedule
keeps its own status.
"""
from __future__ import annotations

from typing import Any

from chalicelib import observability
from chalicelib.delivery import log as delivery_log
from chalicelib.delivery import queue, recovery

log = observability.logger


def mark(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Log and mark every dead-lettered message; report those that could not be marked."""
    again: list[str] = []
    for record in records:
        body = str(record.get("body", ""))
        receives = record.get("attributes", {}).get("ApproximateReceiveCount", "?")
        observability.count("DeadLetters")
        if recovery.abandon(body, receives):  # a recovery job's step: the job stops
            continue
        message = queue.parse(body)
        if message is None:
            # the body holds ids only (never a token, URL or secret): keep it whole here
            log.error("unreadable message in the dead-letter queue",
                      extra={"message_id": record.get("messageId"), "body": body[:20000]})
            continue
        ids = {key: message[key] for key in ("delivery_id", "webhook_id", "company_id",
                                              "event_name", "trigger")}
        reason = (f"not delivered: its queue message failed {receives} receives and went to "
                  "the dead-letter queue")
        try:
            if message["trigger"] == "automatic":
                marked = delivery_log.mark_failed(message, reason)
            else:
                if not isinstance(message["request_id"], str):
                    # as the worker names a request without an id: by its message's id
                    message["request_id"] = str(record.get("messageId"))
                marked = delivery_log.fail_manual(message, reason)
        except Exception:
            log.exception("cannot mark a dead-lettered delivery failed", extra=ids)
            again.append(str(record["messageId"]))
            continue
        log.error("delivery dead-lettered", extra={**ids, "marked_failed": marked,
                                                   "body": body})
    return {"batchItemFailures": [{"itemIdentifier": item} for item in again]}
