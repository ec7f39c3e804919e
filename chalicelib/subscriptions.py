"""Webhook subscriptions: one event, one URL, one token, and a status.

Stored in the ``webhooks`` table, partitioned by company (so a company can only ever read
its own), with three kinds of item per company:

- ``webhook#<id>``  the webhook itself;
- ``quota#<type>``  how many webhooks of that type the company has (the plan limit is a
  condition on this counter, so concurrent creates cannot overshoot it);
- ``token#<sha256>`` the token's owner (tokens are unique within a company; hashed only
  to bound the key's length).

Active webhooks carry ``active_key = "<company>#<event>"``, the key of the sparse index
``active_by_event``: the fan-out finds the active webhooks of company C for event E with
one query. Every write is a transaction with an optimistic ``version`` check.
"""
from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from chalicelib import aws, catalogue, clock
from chalicelib.delivery import signing
from chalicelib.errors import Conflict, NotFound

TABLE = "webhooks"
ACTIVE_INDEX = "active_by_event"

PENDING = "pending_validation"
ACTIVE = "active"
DISABLED = "disabled"
STATUSES = (PENDING, ACTIVE, DISABLED)



class TokenNotAvailable(Conflict):
    """Another webhook of the company already uses this token."""

    type = "TokenNotAvailable"


@dataclass(frozen=True)
class PendingValidation:
    """A validation secret sent to the endpoint and not yet typed back (stored hashed)."""

    secret_hash: str
    requested_at: float
    expires_at: float
    attempts_left: int


@dataclass(frozen=True)
class Health:
    """How the endpoint has been doing, kept by the delivery worker beside the webhook
    (in its own item, so the API's edits and the worker's updates never overwrite each
    other)."""

    last_delivery_at: str | None = None
    last_success_at: str | None = None
    consecutive_failures: int = 0
    failing_since: float | None = None


@dataclass(frozen=True)
class Webhook:
    company_id: int
    webhook_id: int
    event_name: str
    url: str
    token: str
    status: str
    created_at: str
    updated_at: str
    signing_secret: str = field(default="", repr=False)  # whsec_…, never in to_json()
    validated_at: str | None = None
    validation: PendingValidation | None = None
    version: int = 1
    previous_signing_secret: str | None = field(default=None, repr=False)
    previous_secret_expires_at: float | None = None
    disabled_reason: str | None = None
    health: Health = field(default_factory=Health, compare=False)

    def signing_secrets(self, now: float) -> list[str]:
        """The secrets that sign a notification now: the current one, and the previous
        one during its grace period after a rotation."""
        secrets = [self.signing_secret]
        if self.previous_signing_secret and self.previous_secret_expires_at is not None \
                and now < self.previous_secret_expires_at:
            secrets.append(self.previous_signing_secret)
        return secrets

    @property
    def webhook_type(self) -> str:
        return catalogue.type_of(self.event_name)

    def to_json(self) -> dict[str, Any]:
        """The webhook as the API shows it. The validation secret never leaves the store."""
        pending = None
        if self.validation is not None:
            pending = {
                "requested_at": clock.iso(self.validation.requested_at),
                "expires_at": clock.iso(self.validation.expires_at),
                "attempts_left": self.validation.attempts_left,
            }
        return {
            "id": self.webhook_id,
            "event_name": self.event_name,
            "url": self.url,
            "token": self.token,
            "status": self.status,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "validated_at": self.validated_at,
            "pending_validation": pending,
            "disabled_reason": self.disabled_reason,
            "last_delivery_at": self.health.last_delivery_at,
            "last_success_at": self.health.last_success_at,
            "consecutive_failures": self.health.consecutive_failures,
        }


def _sk(webhook_id: int) -> str:
    return f"webhook#{webhook_id:015d}"


def _health_sk(webhook_id: int) -> str:
    return _sk(webhook_id) + "#health"


def _key(company_id: int, sk: str) -> dict[str, Any]:
    return {"company_id": {"N": str(company_id)}, "sk": {"S": sk}}


def _item(webhook: Webhook) -> dict[str, Any]:
    values: dict[str, Any] = {
        "company_id": webhook.company_id,
        "sk": _sk(webhook.webhook_id),
        "webhook_id": webhook.webhook_id,
        "event_name": webhook.event_name,
        "url": webhook.url,
        "token": webhook.token,
        "status": webhook.status,
        "created_at": webhook.created_at,
        "updated_at": webhook.updated_at,
        "version": webhook.version,
        "signing_secret": webhook.signing_secret,
    }
    for name in ("validated_at", "previous_signing_secret", "previous_secret_expires_at",
                 "disabled_reason"):
        if getattr(webhook, name) is not None:
            values[name] = getattr(webhook, name)
    if webhook.validation is not None:
        values["validation"] = {
            "secret_hash": webhook.validation.secret_hash,
            "requested_at": int(webhook.validation.requested_at),
            "expires_at": int(webhook.validation.expires_at),
            "attempts_left": webhook.validation.attempts_left,
        }
    if webhook.status == ACTIVE:
        values["active_key"] = f"{webhook.company_id}#{webhook.event_name}"
    return aws.to_attributes(values)


def _webhook(item: dict[str, Any]) -> Webhook:
    values = aws.from_attributes(item)
    pending = values.get("validation")
    return Webhook(
        company_id=values["company_id"],
        webhook_id=values["webhook_id"],
        event_name=values["event_name"],
        url=values["url"],
        token=values["token"],
        status=values["status"],
        created_at=values["created_at"],
        updated_at=values["updated_at"],
        validated_at=values.get("validated_at"),
        validation=PendingValidation(**pending) if pending else None,
        version=values["version"],
        signing_secret=values["signing_secret"],
        previous_signing_secret=values.get("previous_signing_secret"),
        previous_secret_expires_at=values.get("previous_secret_expires_at"),
        disabled_reason=values.get("disabled_reason"),
    )


def _health(item: dict[str, Any]) -> Health:
    values = aws.from_attributes(item)
    return Health(values.get("last_delivery_at"), values.get("last_success_at"),
                  values.get("consecutive_failures", 0), values.get("failing_since"))


def _with_health(items: list[dict[str, Any]]) -> list[Webhook]:
    """Webhook items with their health items (which sort right after them) folded in."""
    webhooks: dict[str, Webhook] = {}
    health: dict[str, Health] = {}
    for item in items:
        sk = item["sk"]["S"]
        if sk.endswith("#health"):
            health[sk.removesuffix("#health")] = _health(item)
        else:
            webhooks[sk] = _webhook(item)
    return [replace(w, health=health[sk]) if sk in health else w
            for sk, w in webhooks.items()]


def _quota_update(company_id: int, webhook_type: str, delta: int,
                  limit: int | None = None) -> dict[str, Any]:
    update: dict[str, Any] = {
        "TableName": aws.table_name(TABLE),
        "Key": _key(company_id, f"quota#{webhook_type}"),
        "UpdateExpression": "ADD #count :delta",
        "ExpressionAttributeNames": {"#count": "count"},
        "ExpressionAttributeValues": {":delta": {"N": str(delta)}},
    }
    if limit is not None:
        update["ConditionExpression"] = "attribute_not_exists(#count) OR #count < :limit"
        update["ExpressionAttributeValues"][":limit"] = {"N": str(limit)}
    return {"Update": update}


def _token_sk(token: str) -> str:
    return "token#" + hashlib.sha256(token.encode("utf-8")).hexdigest()


def _token_put(company_id: int, token: str, webhook_id: int) -> dict[str, Any]:
    return {"Put": {
        "TableName": aws.table_name(TABLE),
        "Item": {**_key(company_id, _token_sk(token)),
                 "webhook_id": {"N": str(webhook_id)}},
        "ConditionExpression": "attribute_not_exists(sk)",
    }}


def _token_delete(company_id: int, token: str) -> dict[str, Any]:
    return {"Delete": {"TableName": aws.table_name(TABLE),
                       "Key": _key(company_id, _token_sk(token))}}


def _webhook_put(webhook: Webhook, expected_version: int | None) -> dict[str, Any]:
    put: dict[str, Any] = {"TableName": aws.table_name(TABLE), "Item": _item(webhook)}
    if expected_version is None:
        put["ConditionExpression"] = "attribute_not_exists(sk)"
    else:
        put["ConditionExpression"] = "version = :version"
        put["ExpressionAttributeValues"] = {":version": {"N": str(expected_version)}}
    return {"Put": put}


def _transact(items: list[dict[str, Any]]) -> None:
    aws.transact(items, busy="the webhook is being changed by another request; try again")


def get(company_id: int, webhook_id: int) -> Webhook:
    """One webhook of the company, or ``NotFound`` (also for other companies' webhooks)."""
    response = aws.dynamodb().query(
        TableName=aws.table_name(TABLE),
        KeyConditionExpression="company_id = :c AND begins_with(sk, :sk)",
        ExpressionAttributeValues={":c": {"N": str(company_id)},
                                   ":sk": {"S": _sk(webhook_id)}},
        ConsistentRead=True,
    )
    found = _with_health(response.get("Items", []))
    if not found:
        raise NotFound(f"no webhook {webhook_id}", path="id")
    return found[0]


def list_for(company_id: int) -> list[Webhook]:
    """All webhooks of the company, by id (a company has a few dozen at most)."""
    paginator = aws.dynamodb().get_paginator("query")
    pages = paginator.paginate(
        TableName=aws.table_name(TABLE),
        KeyConditionExpression="company_id = :c AND begins_with(sk, :prefix)",
        ExpressionAttributeValues={":c": {"N": str(company_id)},
                                   ":prefix": {"S": "webhook#"}},
        ConsistentRead=True,
    )
    return _with_health([item for page in pages for item in page.get("Items", [])])


def page_for(company_id: int, items: int, after: int | None = None
             ) -> tuple[list[Webhook], int | None]:
    """Up to ``items`` of the company's webhooks with ids above ``after``, by id, and the
    id to continue after (None at the end): one query of at most twice ``items`` items
    (each webhook's health item sorts right after it)."""
    kwargs: dict[str, Any] = {
        "TableName": aws.table_name(TABLE), "Limit": 2 * items + 1, "ConsistentRead": True,
        "KeyConditionExpression": "company_id = :c AND begins_with(sk, :prefix)",
        "ExpressionAttributeValues": {":c": {"N": str(company_id)},
                                      ":prefix": {"S": "webhook#"}}}
    if after is not None:  # after its health item, whether it has one or not
        kwargs["ExclusiveStartKey"] = _key(company_id, _health_sk(after))
    response = aws.dynamodb().query(**kwargs)
    webhooks = _with_health(response.get("Items", []))
    more = len(webhooks) > items or "LastEvaluatedKey" in response
    webhooks = webhooks[:items]
    return webhooks, webhooks[-1].webhook_id if more and webhooks else None


def usage(company_id: int) -> dict[str, int]:
    """How many webhooks the company has, per webhook type."""
    response = aws.dynamodb().query(
        TableName=aws.table_name(TABLE),
        KeyConditionExpression="company_id = :c AND begins_with(sk, :prefix)",
        ExpressionAttributeValues={":c": {"N": str(company_id)}, ":prefix": {"S": "quota#"}},
        ConsistentRead=True,
    )
    counts = (aws.from_attributes(item) for item in response.get("Items", []))
    return {c["sk"].removeprefix("quota#"): c.get("count", 0) for c in counts}


def active_webhook_ids(company_id: int, event_name: str) -> list[int]:
    """The ids of the company's active webhooks for one event: one query of the sparse
    index, which holds only keys (no token, URL or secret: the worker reads those when it
    sends)."""
    paginator = aws.dynamodb().get_paginator("query")
    pages = paginator.paginate(
        TableName=aws.table_name(TABLE),
        IndexName=ACTIVE_INDEX,
        KeyConditionExpression="active_key = :k",
        ExpressionAttributeValues={":k": {"S": f"{company_id}#{event_name}"}},
    )
    return [int(item["webhook_id"]["N"]) for page in pages for item in page.get("Items", [])]


def create(company_id: int, event_name: str, url: str, token: str, *, limit: int,
           on_limit: Callable[[], Exception]) -> Webhook:
    """Store a new webhook in ``pending_validation``, within the type's ``limit``."""
    if limit <= 0:
        raise on_limit()
    now = clock.now_iso()
    webhook = Webhook(company_id, aws.next_id("webhook"), event_name, url, token, PENDING,
                      now, now, signing_secret=signing.new_secret())
    try:
        _transact([
            _quota_update(company_id, webhook.webhook_type, +1, limit),
            _token_put(company_id, token, webhook.webhook_id),
            _webhook_put(webhook, None),
        ])
    except aws.Cancelled as cancelled:
        if cancelled.reasons[0] == "ConditionalCheckFailed":
            raise on_limit() from None
        raise _token_taken(token) from None
    return webhook


def _token_taken(token: str) -> TokenNotAvailable:
    return TokenNotAvailable("another webhook of your company already uses this token",
                             path="token")


def update(current: Webhook, *, event_name: str | None = None, url: str | None = None,
           token: str | None = None, limit: int, on_limit: Callable[[], Exception]) -> Webhook:
    """Edit a webhook. A new URL sends it back to ``pending_validation``.

    A new event of another type must fit that type's ``limit``; a new token must be free.
    """
    changed = replace(current, event_name=event_name or current.event_name,
                      token=token or current.token)
    if url is not None and url != current.url:
        changed = replace(changed, url=url, status=PENDING, validated_at=None, validation=None)
    if changed == current:
        return current
    changed = replace(changed, updated_at=clock.now_iso(), version=current.version + 1)
    items = [_webhook_put(changed, current.version)]
    if changed.webhook_type != current.webhook_type:
        if limit <= 0:
            raise on_limit()
        items += [_quota_update(current.company_id, changed.webhook_type, +1, limit),
                  _quota_update(current.company_id, current.webhook_type, -1)]
    if changed.token != current.token:
        items += [_token_put(current.company_id, changed.token, current.webhook_id),
                  _token_delete(current.company_id, current.token)]
    try:
        _transact(items)
    except aws.Cancelled as cancelled:
        failed = [item for item, reason in zip(items, cancelled.reasons, strict=True)
                  if reason == "ConditionalCheckFailed"]
        if failed[0] is items[0]:
            raise _changed_meanwhile() from None
        if "Update" in failed[0]:
            raise on_limit() from None
        raise _token_taken(changed.token) from None
    return changed


def _changed_meanwhile() -> Conflict:
    return Conflict("the webhook was changed or deleted by another request; read it again",
                    type="WebhookChanged")


def save(current: Webhook, changed: Webhook) -> Webhook:
    """Write a change that touches neither type nor token (status, validation) if nobody
    else changed the webhook since ``current`` was read."""
    changed = replace(changed, updated_at=clock.now_iso(), version=current.version + 1)
    try:
        _transact([_webhook_put(changed, current.version)])
    except aws.Cancelled:
        raise _changed_meanwhile() from None
    return changed


def delete(current: Webhook) -> None:
    """Delete a webhook and free its slot and its token."""
    try:
        _transact([
            {"Delete": {
                "TableName": aws.table_name(TABLE),
                "Key": _key(current.company_id, _sk(current.webhook_id)),
                "ConditionExpression": "version = :version",
                "ExpressionAttributeValues": {":version": {"N": str(current.version)}},
            }},
            _quota_update(current.company_id, current.webhook_type, -1),
            _token_delete(current.company_id, current.token),
            {"Delete": {"TableName": aws.table_name(TABLE),
                        "Key": _key(current.company_id, _health_sk(current.webhook_id))}},
        ])
    except aws.Cancelled:
        raise _changed_meanwhile() from None


def get_many(keys: set[tuple[int, int]]) -> dict[tuple[int, int], Webhook]:
    """Several webhooks (with their health) by ``(company_id, webhook_id)``, one
    BatchGetItem per 50; missing ones are absent from the result."""
    items = aws.batch_get(aws.table_name(TABLE), [
        key for c, w in sorted(keys) for key in (_key(c, _sk(w)), _key(c, _health_sk(w)))])
    items.sort(key=lambda item: (item["company_id"]["N"], item["sk"]["S"]))
    return {(w.company_id, w.webhook_id): w for w in _with_health(items)}


def record_health(webhook: Webhook, succeeded: bool, when: float) -> Health:
    """Note a delivery attempt's outcome on the endpoint's health; the new health."""
    at = clock.iso(when)
    if succeeded:
        update = ("SET last_delivery_at = :at, last_success_at = :at, "
                  "consecutive_failures = :zero REMOVE failing_since")
        values: dict[str, Any] = {":at": at, ":zero": 0}
    else:
        update = ("SET last_delivery_at = :at, failing_since = if_not_exists(failing_since, "
                  ":when) ADD consecutive_failures :one")
        values = {":at": at, ":when": int(when), ":one": 1}
    response = aws.dynamodb().update_item(
        TableName=aws.table_name(TABLE),
        Key=_key(webhook.company_id, _health_sk(webhook.webhook_id)),
        UpdateExpression=update, ExpressionAttributeValues=aws.to_attributes(values),
        ReturnValues="ALL_NEW")
    return _health(response["Attributes"])


def clear_failures(webhook: Webhook) -> None:
    """Forget a failure streak (a webhook validated again starts afresh)."""
    aws.dynamodb().update_item(
        TableName=aws.table_name(TABLE),
        Key=_key(webhook.company_id, _health_sk(webhook.webhook_id)),
        UpdateExpression="SET consecutive_failures = :zero REMOVE failing_since",
        ExpressionAttributeValues={":zero": {"N": "0"}})


def disable(webhook: Webhook, reason: str) -> bool:
    """Take an active webhook out of service (deliveries stop; a new validation brings it
    back). False when it was no longer active anyway."""
    try:
        aws.dynamodb().update_item(
            TableName=aws.table_name(TABLE),
            Key=_key(webhook.company_id, _sk(webhook.webhook_id)),
            UpdateExpression=("SET #status = :disabled, disabled_reason = :reason, "
                              "updated_at = :now ADD version :one REMOVE active_key"),
            ConditionExpression="#status = :active",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues=aws.to_attributes({
                ":disabled": DISABLED, ":reason": reason, ":now": clock.now_iso(),
                ":one": 1, ":active": ACTIVE}),
        )
    except Exception as exc:
        if aws.error_code(exc) == "ConditionalCheckFailedException":
            return False
        raise
    return True
