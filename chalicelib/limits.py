"""Limits against abuse: fixed-window counters in DynamoDB, shared by every Lambda instance.

A counter is one item per (subject, window) in the ``rate_limits`` table, incremented with
one conditional ``UpdateItem``: atomic across all containers, and refused once it reaches
the limit (the refusal writes nothing). Items expire through the table's TTL.

- Every API user may make ``WEBHOOKS_RATE_LIMIT_PER_MINUTE`` requests a minute, like
  Clockodo's limit; one user's count never touches another's.
- Every webhook may send ``WEBHOOKS_VALIDATIONS_PER_HOUR`` validation requests an hour, so
  that ``validate`` cannot be used as a port scanner or an open POST reflector.
"""
from __future__ import annotations

from typing import Any

from chalicelib import aws, clock
from chalicelib.errors import ApiError

TABLE = "rate_limits"


class TooManyRequests(ApiError):
    """A limit is reached; ``Retry-After`` says when the window ends."""

    status = 429
    type = "TooManyRequests"


def window(now: float, seconds: int) -> tuple[int, int]:
    """The window ``now`` falls in: (its number, seconds until it ends, at least 1)."""
    number = int(now // seconds)
    return number, max(1, (number + 1) * seconds - int(now))


def take(subject: str, limit: int, seconds: int, *, what: str, path: str | None = None,
         details: dict[str, Any] | None = None) -> None:
    """Count one use of ``subject`` in the current window of ``seconds``; raise
    ``TooManyRequests`` when the window already has ``limit`` uses."""
    now = clock.now()
    number, left = window(now, seconds)
    counted = aws.update_if(
        TableName=aws.table_name(TABLE),
        Key={"bucket": {"S": f"{subject}#{number}"}},
        UpdateExpression="ADD #n :one SET expires_at = :expires",
        ConditionExpression="attribute_not_exists(#n) OR #n < :limit",
        ExpressionAttributeNames={"#n": "count"},
        ExpressionAttributeValues={":one": {"N": "1"}, ":limit": {"N": str(limit)},
                                   ":expires": {"N": str(int(now) + left + seconds)}},
    )
    if counted is None:
        error = TooManyRequests(f"{what}: at most {limit} per {_per(seconds)}; try again "
                                f"in {left} s", path=path,
                                details={"limit": limit, "retry_after": left, **(details or {})})
        error.headers = {"Retry-After": str(left)}
        raise error


def api_request(api_user: str, limit: int) -> None:
    """Count one request of an API user (per minute)."""
    take(f"user#{api_user}", limit, 60, what="too many requests from this API user")


def validation_request(company_id: int, webhook_id: int, limit: int) -> None:
    """Count one validation request of a webhook (per hour)."""
    take(f"validate#{company_id}#{webhook_id}", limit, 3600,
         what="too many validation requests for this webhook", path="url")


def _per(seconds: int) -> str:
    return {60: "minute", 3600: "hour"}.get(seconds, f"{seconds} s")
