"""The delivery log ("Protokoll"): one item per delivery, with every attempt in it.

Keyed ``(webhook_id, delivery_id)``; delivery ids begin with the change's time, so a query
newest-first lists the log in order. Items expire through DynamoDB TTL (``expires_at``).

The log holds each delivery's retry state: how many automatic attempts were claimed
(``attempt_count``), when the next is due (``next_attempt_at``), the highest attempt a
queue message was sent for (``queued``), and the lease of the worker sending now
(``lease_until``, ``lease_token``). Before it sends, the worker *claims* an attempt with a
conditional write: only the next attempt, when due, of a ``pending`` delivery no worker
holds. Only that worker can record the attempt's result (the write is conditional on the
attempt number and its lease token). Manual attempts have their own count
(``manual_count``), the ids of the requests whose attempt is recorded
(``manual_requests``), and a lease of their own (``manual_lease_until``,
``manual_lease_token``), taken and released the same way.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from chalicelib import aws, clock
from chalicelib.errors import NotFound

TABLE = "deliveries"
#: ``status_key`` (``"<webhook_id>#<status>"``) and ``delivery_id``: a webhook's deliveries
#: of one status, newest first, as one key-range query (``filter[status]``, ``recover``)
STATUS_INDEX = "by_status"
PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"
STATUSES = (PENDING, DELIVERED, FAILED)
MAX_KEPT_ATTEMPTS = 50
RESPONSE_BODY_CHARS = 2048

_SUMMARY = ("delivery_id", "event_name", "resource_type", "resource_id", "occurred_at",
            "#status", "attempt_count", "manual_count", "created_at", "last_attempt_at",
            "last_status_code", "last_error", "test_event", "payload")

#: The trigger of a test event's message (``POST /v2/webhooks/{id}/test``); the others are
#: "automatic" (a change) and "manual" (redeliver, recover).
TEST = "test"


def _key(webhook_id: int, delivery_id: str) -> dict[str, Any]:
    return {"webhook_id": {"N": str(webhook_id)}, "delivery_id": {"S": delivery_id}}


def status_key(webhook_id: int, status: str) -> str:
    """The status index's partition key; every write of ``status`` writes it too."""
    return f"{webhook_id}#{status}"


#: What every write that may create a log entry sets (a claim, a manual claim, a dead
#: letter): the delivery's description, its creation and expiry kept from the first.
_DESCRIPTION = ("company_id = :company, event_name = :event, resource_type = :rtype, "
                "resource_id = :rid_number, occurred_at = :occurred, "
                "created_at = if_not_exists(created_at, :created), "
                "expires_at = if_not_exists(expires_at, :expires), "
                "test_event = if_not_exists(test_event, :test)")


def _description(message: dict[str, Any], now: float,
                 retention_days: int = 30) -> dict[str, Any]:
    """The values of ``_DESCRIPTION`` for a message."""
    return {":company": message["company_id"], ":event": message["event_name"],
            ":rtype": message["resource_type"], ":rid_number": message["resource_id"],
            ":occurred": message["occurred_at"], ":created": clock.iso(now),
            ":expires": int(now) + retention_days * 86400,
            ":test": message["trigger"] == TEST}


def _kept(attempt: dict[str, Any], values: dict[str, Any]) -> str:
    """The clause that appends ``attempt`` to the entry's attempts (adding its values to
    ``values``), or none past the first ``MAX_KEPT_ATTEMPTS`` of its kind."""
    if attempt["attempt"] > MAX_KEPT_ATTEMPTS:
        return ""
    values[":empty"] = []
    values[":attempt"] = [attempt]
    return ", attempts = list_append(if_not_exists(attempts, :empty), :attempt)"


@dataclass(frozen=True)
class State:
    """What the log says about a delivery's automatic schedule."""

    status: str
    attempt_count: int  # automatic attempts claimed so far
    lease_until: int  # the worker sending attempt ``attempt_count`` holds it until then
    next_attempt_at: int  # epoch seconds the next automatic attempt is due (0: now)
    queued: int  # the highest attempt number a queue message was sent for


def claim(message: dict[str, Any], attempt: int, *, lease_seconds: float,
          retention_days: int, token: str) -> State | None:
    """Claim automatic attempt ``attempt`` for this worker (``token``): None when it is
    claimed, else the log's state, which says why not (done, leased, not yet due, another
    attempt). Only the next attempt, due, of a pending delivery no one holds is claimable;
    the first one creates the log entry."""
    if aws.update_if(**claim_update(message, attempt, lease_seconds=lease_seconds,
                                    retention_days=retention_days, token=token)) is None:
        return state(message) or State(FAILED, 0, 0, 0, 0)  # expired meanwhile: nothing to do
    return None


def claim_update(message: dict[str, Any], attempt: int, *, lease_seconds: float,
                 retention_days: int, token: str) -> dict[str, Any]:
    """The conditional ``UpdateItem`` of ``claim``, also an action of a batch's claiming
    transaction (``worker``)."""
    now = clock.now()
    condition = ("#status = :pending AND attempt_count = :previous AND lease_until < :now "
                 "AND (attribute_not_exists(next_attempt_at) OR next_attempt_at <= :now)")
    if attempt == 1:
        condition = f"attribute_not_exists(delivery_id) OR ({condition})"
    values = {
        ":now": int(now), ":lease": int(now + lease_seconds) + 1, ":pending": PENDING,
        ":previous": attempt - 1, ":attempt": attempt, ":token": token, ":zero": 0,
        ":skey": status_key(message["webhook_id"], PENDING),
        **_description(message, now, retention_days),
    }
    # a payload other than {<type>: {"id"}} (budget notifications) is kept, to send again
    payload = ", payload = :payload" if message.get("payload") else ""
    if payload:
        values[":payload"] = message["payload"]
    return {
        "TableName": aws.table_name(TABLE),
        "Key": _key(message["webhook_id"], message["delivery_id"]),
        "UpdateExpression": (
            f"SET {_DESCRIPTION}, lease_until = :lease, lease_token = :token, "
            "#status = :pending, status_key = :skey, attempt_count = :attempt, "
            "next_attempt_at = :zero, queued = if_not_exists(queued, :attempt)" + payload),
        "ConditionExpression": condition,
        "ExpressionAttributeNames": {"#status": "status"},
        "ExpressionAttributeValues": aws.to_attributes(values),
    }


def state(message: dict[str, Any]) -> State | None:
    """The delivery's automatic schedule as the log has it (None: no entry)."""
    item = aws.dynamodb().get_item(
        TableName=aws.table_name(TABLE), ConsistentRead=True,
        Key=_key(message["webhook_id"], message["delivery_id"]),
        ProjectionExpression="#status, attempt_count, lease_until, next_attempt_at, queued",
        ExpressionAttributeNames={"#status": "status"}).get("Item")
    if item is None:
        return None
    values = aws.from_attributes(item)
    count = int(values.get("attempt_count", 0))
    return State(str(values.get("status", PENDING)), count, int(values.get("lease_until", 0)),
                 int(values.get("next_attempt_at", 0)), int(values.get("queued", count)))


def record(message: dict[str, Any], attempt: dict[str, Any], status: str, *, token: str,
           next_attempt_at: int = 0, queued: int | None = None) -> bool:
    """Store an automatic attempt's outcome and the delivery's new status, releasing the
    lease; only the worker that claimed the attempt can (``token``). False when the claim
    was lost meanwhile (the lease ran out and another worker took over): the result of
    this stale attempt is then not stored."""
    return aws.update_if(**record_update(message, attempt, status, token=token,
                                         next_attempt_at=next_attempt_at,
                                         queued=queued)) is not None


def record_update(message: dict[str, Any], attempt: dict[str, Any], status: str, *,
                  token: str, next_attempt_at: int = 0,
                  queued: int | None = None) -> dict[str, Any]:
    """The conditional ``UpdateItem`` of ``record``, also an action of a batch's recording
    transaction (``worker``)."""
    values: dict[str, Any] = {":status": status, ":at": attempt["requested_at"], ":zero": 0,
                              ":code": attempt["status_code"], ":error": attempt["error"],
                              ":n": attempt["attempt"], ":token": token,
                              ":next": next_attempt_at,
                              ":skey": status_key(message["webhook_id"], status),
                              ":queued": attempt["attempt"] if queued is None else queued}
    update = ("SET #status = :status, status_key = :skey, last_attempt_at = :at, "
              "lease_until = :zero, "
              "last_status_code = :code, last_error = :error, next_attempt_at = :next, "
              "queued = :queued")
    update += _kept(attempt, values)
    return {
        "TableName": aws.table_name(TABLE),
        "Key": _key(message["webhook_id"], message["delivery_id"]),
        # the lease's token goes with the record: the same record written twice (a retry
        # of a write whose answer was lost) fails its condition instead of appending twice
        "UpdateExpression": update + " REMOVE lease_token",
        "ConditionExpression": "attempt_count = :n AND lease_token = :token",
        "ExpressionAttributeNames": {"#status": "status"},
        "ExpressionAttributeValues": aws.to_attributes(values),
    }


@dataclass(frozen=True)
class ManualClaim:
    """A manual attempt this worker has claimed."""

    number: int  # its number among the delivery's manual attempts
    scheduled: bool  # the delivery has an automatic schedule (which keeps its status)
    status: str  # the delivery's status when claimed


_NOT_RECORDED = "(attribute_not_exists(manual_requests) OR NOT contains(manual_requests, :rid))"


def claim_manual(message: dict[str, Any], request_id: str, *, lease_seconds: float,
                 retention_days: int, token: str) -> ManualClaim | None:
    """Claim the one attempt of a manual request (redelivery, recovery, test event) for
    this worker (``token``), leased as an automatic attempt is: None when it cannot be
    claimed now (``manual_wait`` says whether it was made already or is being made).

    A delivery's manual attempts are made one at a time (one lease per delivery), and a
    request counts as made only once its result is recorded: a worker that dies after
    claiming leaves a lease that runs out, and the request's message, coming back, makes
    the attempt then. Manual attempts never touch the automatic schedule."""
    now = clock.now()
    values = {
        ":rid": request_id, ":pending": PENDING, ":now": int(now), ":token": token,
        ":lease": int(now + lease_seconds) + 1,
        ":skey": status_key(message["webhook_id"], PENDING),
        **_description(message, now, retention_days),
    }
    response = aws.update_if(
        TableName=aws.table_name(TABLE),
        Key=_key(message["webhook_id"], message["delivery_id"]),
        UpdateExpression=(
            f"SET {_DESCRIPTION}, #status = if_not_exists(#status, :pending), "
            "status_key = if_not_exists(status_key, :skey), manual_lease_until = :lease, "
            "manual_lease_token = :token"),
        ConditionExpression=(f"{_NOT_RECORDED} AND (attribute_not_exists(manual_lease_until)"
                             " OR manual_lease_until < :now)"),
        ExpressionAttributeNames={"#status": "status"},
        ExpressionAttributeValues=aws.to_attributes(values),
        ReturnValues="ALL_NEW",
    )
    if response is None:
        return None
    values = aws.from_attributes(response["Attributes"])
    return ManualClaim(int(values.get("manual_count", 0)) + 1,
                       int(values.get("attempt_count", 0)) > 0, str(values["status"]))


def manual_wait(message: dict[str, Any], request_id: str) -> float | None:
    """Why a manual request could not be claimed: None when its attempt is recorded
    already (a copy of its message), else the seconds until the lease held now ends."""
    item = aws.dynamodb().get_item(
        TableName=aws.table_name(TABLE), ConsistentRead=True,
        Key=_key(message["webhook_id"], message["delivery_id"]),
        ProjectionExpression="manual_requests, manual_lease_until").get("Item")
    values = aws.from_attributes(item or {})
    if request_id in values.get("manual_requests", []):
        return None
    return max(0.0, float(values.get("manual_lease_until", 0)) - clock.now())


def record_manual(message: dict[str, Any], attempt: dict[str, Any], succeeded: bool,
                  scheduled: bool, *, request_id: str, token: str) -> bool:
    """Store a manual attempt and count its request as made, releasing the lease; only
    the worker that claimed it can (False: its lease ran out and another worker took the
    request over). A success makes the delivery ``delivered``; a failure changes its
    status only when it has no automatic schedule (a test event: ``failed``), so a failed
    redelivery never ends the automatic retries."""
    values: dict[str, Any] = {":at": attempt["requested_at"], ":code": attempt["status_code"],
                              ":error": attempt["error"], ":zero": 0, ":one": 1,
                              ":request": {request_id}, ":rid": request_id, ":token": token}
    update = ("SET last_attempt_at = :at, last_status_code = :code, last_error = :error, "
              "manual_lease_until = :zero")
    names: dict[str, str] = {}
    if succeeded or not scheduled:
        update += ", #status = :status, status_key = :skey"
        names["#status"] = "status"
        values[":status"] = DELIVERED if succeeded else FAILED
        values[":skey"] = status_key(message["webhook_id"], values[":status"])
    update += _kept(attempt, values)
    return aws.update_if(
        TableName=aws.table_name(TABLE),
        Key=_key(message["webhook_id"], message["delivery_id"]),
        UpdateExpression=update + " ADD manual_count :one, manual_requests :request",
        ConditionExpression=f"manual_lease_token = :token AND {_NOT_RECORDED}",
        **({"ExpressionAttributeNames": names} if names else {}),
        ExpressionAttributeValues=aws.to_attributes(values),
    ) is not None


def fail_manual(message: dict[str, Any], reason: str) -> bool:
    """Record a manual request that can no longer be attempted (its message went to the
    dead-letter queue) as a failed manual attempt with the reason, unless its attempt was
    recorded; a delivery without an automatic schedule (a test event) becomes ``failed``,
    one with a schedule keeps its status. The entry is created if it was never claimed.
    False when the request had been recorded."""
    request_id = str(message["request_id"])
    item = aws.dynamodb().get_item(
        TableName=aws.table_name(TABLE), ConsistentRead=True,
        Key=_key(message["webhook_id"], message["delivery_id"]),
        ProjectionExpression="attempt_count, manual_count, manual_requests").get("Item")
    known = aws.from_attributes(item or {})
    if request_id in known.get("manual_requests", []):
        return False
    now = clock.now()
    number = int(known.get("manual_count", 0)) + 1
    scheduled = int(known.get("attempt_count", 0)) > 0
    entry = attempt_entry(number, message["trigger"], now, 0, None, reason[:500], "")
    values: dict[str, Any] = {
        ":reason": reason[:500], ":one": 1, ":request": {request_id}, ":rid": request_id,
        ":failed": FAILED, ":skey": status_key(message["webhook_id"], FAILED),
        **_description(message, now)}
    update = (f"SET last_error = :reason, {_DESCRIPTION}, "
              + ("#status = if_not_exists(#status, :failed), "
                 "status_key = if_not_exists(status_key, :skey)" if scheduled
                 else "#status = :failed, status_key = :skey"))
    update += _kept(entry, values)
    return aws.update_if(
        TableName=aws.table_name(TABLE),
        Key=_key(message["webhook_id"], message["delivery_id"]),
        UpdateExpression=update + " ADD manual_count :one, manual_requests :request",
        ConditionExpression=_NOT_RECORDED,
        ExpressionAttributeNames={"#status": "status"},
        ExpressionAttributeValues=aws.to_attributes(values),
    ) is not None


def mark_failed(message: dict[str, Any], reason: str) -> bool:
    """Mark a delivery that can no longer be attempted ``failed`` with the reason, unless
    it already ended (an entry is created if it was never attempted, so that ``recover``
    finds it); False when it had ended."""
    now = clock.now()
    values = {":failed": FAILED, ":reason": reason[:500], ":pending": PENDING, ":zero": 0,
              ":skey": status_key(message["webhook_id"], FAILED),
              **_description(message, now)}
    return aws.update_if(
        TableName=aws.table_name(TABLE),
        Key=_key(message["webhook_id"], message["delivery_id"]),
        UpdateExpression=(
            "SET #status = :failed, status_key = :skey, last_error = :reason, "
            f"lease_until = :zero, {_DESCRIPTION}, "
            "attempt_count = if_not_exists(attempt_count, :zero)"),
        ConditionExpression="attribute_not_exists(delivery_id) OR #status = :pending",
        ExpressionAttributeNames={"#status": "status"},
        ExpressionAttributeValues=aws.to_attributes(values),
    ) is not None


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
        # automatic and manual attempts (each kind numbered on its own in ``attempts``)
        "attempt_count": int(values.get("attempt_count", 0)) + int(values.get("manual_count", 0)),
        "created_at": values["created_at"],
        "last_attempt_at": values.get("last_attempt_at"),
        "last_status_code": values.get("last_status_code"),
        "last_error": values.get("last_error"),
        "test": bool(values.get("test_event", False)),
    }
    if values.get("payload"):
        result["payload"] = values["payload"]
    if with_attempts:
        result["attempts"] = values.get("attempts", [])
    return result


def page_for(webhook_id: int, items: int, after: str | None = None,
             status: str | None = None) -> tuple[list[dict[str, Any]], str | None]:
    """Up to ``items`` of the webhook's deliveries (of one ``status``), newest first and
    older than the delivery ``after``, without their attempts, and the id to continue
    after (None at the end). One query of ``items`` items, however long the log is:
    a status is a key of the status index, not a filter over the whole log."""
    kwargs: dict[str, Any] = {
        "TableName": aws.table_name(TABLE), "Limit": items, "ScanIndexForward": False,
        "ExpressionAttributeNames": {"#status": "status"},
        "ProjectionExpression": ", ".join(_SUMMARY),
    }
    if status is None:
        kwargs["KeyConditionExpression"] = "webhook_id = :w"
        kwargs["ExpressionAttributeValues"] = {":w": {"N": str(webhook_id)}}
        start = {"webhook_id": {"N": str(webhook_id)}}
    else:
        kwargs["IndexName"] = STATUS_INDEX
        kwargs["KeyConditionExpression"] = "status_key = :k"
        kwargs["ExpressionAttributeValues"] = {":k": {"S": status_key(webhook_id, status)}}
        start = {"webhook_id": {"N": str(webhook_id)},
                 "status_key": {"S": status_key(webhook_id, status)}}
    if after is not None:
        kwargs["ExclusiveStartKey"] = {**start, "delivery_id": {"S": after}}
    response = aws.dynamodb().query(**kwargs)
    found = [_json(aws.from_attributes(item), False) for item in response.get("Items", [])]
    more = "LastEvaluatedKey" in response and found
    return found, found[-1]["id"] if more else None


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
            "trigger": "manual", "request_id": uuid.uuid4().hex, "v": 2,
            **({"payload": delivery["payload"]} if delivery.get("payload") else {})}


def failed_since(webhook_id: int, since: float, after: str | None = None,
                 items: int = 500) -> tuple[list[dict[str, Any]], str | None]:
    """Up to ``items`` of the webhook's failed deliveries of changes since ``since`` (epoch
    seconds), oldest first and after the delivery ``after``, and the id to continue after
    (None at the end): delivery ids begin with the change's time, so this is one
    key-range query of the status index."""
    lowest = f"msg_{int(since * 1000):012x}"
    kwargs: dict[str, Any] = {
        "TableName": aws.table_name(TABLE), "IndexName": STATUS_INDEX, "Limit": items,
        "KeyConditionExpression": "status_key = :k AND delivery_id BETWEEN :lo AND :hi",
        "ExpressionAttributeNames": {"#status": "status"},
        "ExpressionAttributeValues": {":k": {"S": status_key(webhook_id, FAILED)},
                                      ":lo": {"S": lowest}, ":hi": {"S": "msg_g"}},
        "ProjectionExpression": ", ".join(_SUMMARY),
    }
    if after is not None:
        kwargs["ExclusiveStartKey"] = {"webhook_id": {"N": str(webhook_id)},
                                       "status_key": {"S": status_key(webhook_id, FAILED)},
                                       "delivery_id": {"S": after}}
    response = aws.dynamodb().query(**kwargs)
    found = [_json(aws.from_attributes(item), False) for item in response.get("Items", [])]
    return found, found[-1]["id"] if "LastEvaluatedKey" in response and found else None
