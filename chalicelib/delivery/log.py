"""The delivery log ("Protokoll"): one item per delivery, with every attempt in it.

Keyed ``(webhook_id, delivery_id)``; delivery ids begin with the change's time, so a query
newest-first lists the log in order. Items expire through DynamoDB TTL (``expires_at``).

Before it sends, the worker *claims* the delivery with a conditional write: a delivery is
claimable when it is new, or still ``pending`` and not leased by another worker. That
write is what keeps a duplicated queue message from sending twice, and its lease is what
lets a delivery whose worker crashed mid-send be tried again.
"""
from __future__ import annotations

from typing import Any

from chalicelib import aws, clock
from chalicelib.errors import NotFound

TABLE = "deliveries"
PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"
STATUSES = (PENDING, DELIVERED, FAILED)
MAX_KEPT_ATTEMPTS = 50
RESPONSE_BODY_CHARS = 2048

_SUMMARY = ("delivery_id", "event_name", "resource_type", "resource_id", "occurred_at",
            "#status", "attempt_count", "created_at", "last_attempt_at", "last_status_code",
            "last_error", "test_event")

#: The trigger of a test event's message (``POST /v2/webhooks/{id}/test``); the others are
#: "automatic" (a change) and "manual" (redeliver, recover).
TEST = "test"


def _key(webhook_id: int, delivery_id: str) -> dict[str, Any]:
    return {"webhook_id": {"N": str(webhook_id)}, "delivery_id": {"S": delivery_id}}


#: What ``claim`` says when the delivery is not this worker's to send.
DONE = "done"  # delivered or failed: a duplicate message, to be dropped
BUSY = "busy"  # another worker is sending it right now: offer the message again later


def claim(message: dict[str, Any], *, lease_seconds: float, retention_days: int,
          manual: bool = False) -> int | str:
    """Claim the message's delivery for one attempt: the attempt's number, or ``DONE`` /
    ``BUSY`` when it is not this worker's to send."""
    now = clock.now()
    condition = "attribute_not_exists(delivery_id) OR (lease_until < :now"
    condition += ")" if manual else " AND #status = :pending)"
    values = {
        ":now": int(now), ":lease": int(now + lease_seconds) + 1, ":pending": PENDING,
        ":one": 1, ":company": message["company_id"], ":event": message["event_name"],
        ":rtype": message["resource_type"], ":rid": message["resource_id"],
        ":occurred": message["occurred_at"], ":created": clock.iso(now),
        ":expires": int(now) + retention_days * 86400, ":test": message["trigger"] == TEST,
    }
    try:
        response = aws.dynamodb().update_item(
            TableName=aws.table_name(TABLE),
            Key=_key(message["webhook_id"], message["delivery_id"]),
            UpdateExpression=(
                "SET company_id = :company, event_name = :event, resource_type = :rtype, "
                "resource_id = :rid, occurred_at = :occurred, "
                "created_at = if_not_exists(created_at, :created), expires_at = :expires, "
                "test_event = if_not_exists(test_event, :test), "
                "lease_until = :lease, #status = :pending ADD attempt_count :one"),
            ConditionExpression=condition,
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues=aws.to_attributes(values),
            ReturnValues="UPDATED_NEW",
        )
    except Exception as exc:
        if aws.error_code(exc) != "ConditionalCheckFailedException":
            raise
        current = aws.dynamodb().get_item(
            TableName=aws.table_name(TABLE), ConsistentRead=True,
            Key=_key(message["webhook_id"], message["delivery_id"]),
            ProjectionExpression="#status, lease_until",
            ExpressionAttributeNames={"#status": "status"}).get("Item")
        leased = current is not None and \
            int(current.get("lease_until", {}).get("N", "0")) >= int(now)
        return BUSY if leased else DONE
    return int(response["Attributes"]["attempt_count"]["N"])


def record(message: dict[str, Any], attempt: dict[str, Any], status: str) -> None:
    """Store an attempt's outcome and the delivery's new status; releases the lease."""
    values: dict[str, Any] = {":status": status, ":at": attempt["requested_at"], ":zero": 0,
                              ":code": attempt["status_code"], ":error": attempt["error"]}
    update = ("SET #status = :status, last_attempt_at = :at, lease_until = :zero, "
              "last_status_code = :code, last_error = :error")
    if attempt["attempt"] <= MAX_KEPT_ATTEMPTS:
        update += ", attempts = list_append(if_not_exists(attempts, :empty), :attempt)"
        values[":empty"] = []
        values[":attempt"] = [attempt]
    aws.dynamodb().update_item(
        TableName=aws.table_name(TABLE),
        Key=_key(message["webhook_id"], message["delivery_id"]),
        UpdateExpression=update,
        ExpressionAttributeNames={"#status": "status"},
        ExpressionAttributeValues=aws.to_attributes(values),
    )


def attempt_entry(number: int, trigger: str, requested_at: float, duration_ms: int,
                  status_code: int | None, error: str | None, body: str,
                  next_attempt_in: int | None = None) -> dict[str, Any]:
    """One attempt as the log keeps it; ``next_attempt_at`` when another one is due."""
    return {"attempt": number, "trigger": trigger, "requested_at": clock.iso(requested_at),
            "duration_ms": duration_ms, "status_code": status_code, "error": error,
            "response_body": body[:RESPONSE_BODY_CHARS],
            "next_attempt_at": clock.iso(requested_at + duration_ms / 1000 + next_attempt_in)
            if next_attempt_in is not None else None}


def _json(values: dict[str, Any], with_attempts: bool) -> dict[str, Any]:
    result = {
        "id": values["delivery_id"],
        "event_name": values["event_name"],
        "resource_type": values["resource_type"],
        "resource_id": values["resource_id"],
        "occurred_at": values["occurred_at"],
        "status": values["status"],
        "attempt_count": values.get("attempt_count", 0),
        "created_at": values["created_at"],
        "last_attempt_at": values.get("last_attempt_at"),
        "last_status_code": values.get("last_status_code"),
        "last_error": values.get("last_error"),
        "test": bool(values.get("test_event", False)),
    }
    if with_attempts:
        result["attempts"] = values.get("attempts", [])
    return result


def list_for(webhook_id: int, status: str | None = None) -> list[dict[str, Any]]:
    """The webhook's deliveries, newest first, without their attempts."""
    kwargs: dict[str, Any] = {
        "TableName": aws.table_name(TABLE),
        "KeyConditionExpression": "webhook_id = :w",
        "ExpressionAttributeValues": {":w": {"N": str(webhook_id)}},
        "ExpressionAttributeNames": {"#status": "status"},
        "ProjectionExpression": ", ".join(_SUMMARY),
        "ScanIndexForward": False,
    }
    if status is not None:
        kwargs["FilterExpression"] = "#status = :s"
        kwargs["ExpressionAttributeValues"][":s"] = {"S": status}
    pages = aws.dynamodb().get_paginator("query").paginate(**kwargs)
    return [_json(aws.from_attributes(item), False)
            for page in pages for item in page.get("Items", [])]


def get(webhook_id: int, delivery_id: str) -> dict[str, Any]:
    """One delivery with all its attempts, or ``NotFound``."""
    response = aws.dynamodb().get_item(TableName=aws.table_name(TABLE),
                                       Key=_key(webhook_id, delivery_id[:64]),
                                       ConsistentRead=True)
    if "Item" not in response:
        raise NotFound(f"no delivery {delivery_id[:64]}", path="delivery_id")
    return _json(aws.from_attributes(response["Item"]), True)


def message_of(webhook_id: int, delivery: dict[str, Any], company_id: int) -> dict[str, Any]:
    """The queue message that sends a logged delivery again."""
    return {"delivery_id": delivery["id"], "company_id": company_id, "webhook_id": webhook_id,
            "event_name": delivery["event_name"], "resource_type": delivery["resource_type"],
            "resource_id": delivery["resource_id"], "occurred_at": delivery["occurred_at"],
            "trigger": "manual"}


def failed_since(webhook_id: int, since: float) -> list[dict[str, Any]]:
    """The webhook's failed deliveries of changes since ``since`` (epoch seconds): their
    ids begin with the change's time, so this is one key-range query."""
    lowest = f"msg_{int(since * 1000):012x}"
    pages = aws.dynamodb().get_paginator("query").paginate(
        TableName=aws.table_name(TABLE),
        KeyConditionExpression="webhook_id = :w AND delivery_id BETWEEN :lo AND :hi",
        FilterExpression="#status = :failed",
        ExpressionAttributeNames={"#status": "status"},
        ExpressionAttributeValues={":w": {"N": str(webhook_id)}, ":lo": {"S": lowest},
                                   ":hi": {"S": "msg_g"}, ":failed": {"S": FAILED}},
        ProjectionExpression=", ".join(_SUMMARY),
    )
    return [_json(aws.from_attributes(item), False)
            for page in pages for item in page.get("Items", [])]
