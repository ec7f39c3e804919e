"""The delivery worker: queued deliveries become signed HTTP POSTs and log entries.

Runs on batches of SQS messages and sends a batch's notifications concurrently, so one
slow receiver costs the others nothing beyond its own timeout. Token, URL, status and
signing secret are read when sending: a webhook deleted meanwhile gets nothing, one that
is no longer active gets nothing and the log says why. Each send is vetted against SSRF
again and pinned to the vetted address. A failed send is logged and reported back
(``batchItemFailures``) so that the queue offers it again; after ``max_attempts`` receipts
the delivery is ``failed``.
"""
from __future__ import annotations

import json
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from chalicelib import clock, delivery_log, outbound, settings, signing, subscriptions, urlguard
from chalicelib.outbound import Outcome
from chalicelib.settings import Settings
from chalicelib.subscriptions import Webhook

log = logging.getLogger("webhooks.delivery")

MESSAGE_FIELDS = frozenset({"delivery_id", "company_id", "webhook_id", "event_name",
                            "resource_type", "resource_id", "occurred_at", "trigger"})


def notification_body(message: dict[str, Any], webhook: Webhook) -> str:
    """Exactly Clockodo's notification: ids and the token, never the resource's data."""
    return json.dumps({
        "subscription_id": webhook.webhook_id,
        "company_id": message["company_id"],
        "occurred_at": message["occurred_at"],
        "payload": {message["resource_type"]: {"id": message["resource_id"]}},
        "event_name": message["event_name"],
        "token": webhook.token,
    })


def _parse(record: dict[str, Any]) -> dict[str, Any] | None:
    try:
        message = json.loads(record["body"])
    except (KeyError, TypeError, ValueError):
        return None
    if not isinstance(message, dict) or set(message) != MESSAGE_FIELDS:
        return None
    return message


def _receive_count(record: dict[str, Any]) -> int:
    try:
        return int(record.get("attributes", {}).get("ApproximateReceiveCount", "1"))
    except ValueError:
        return 1


def deliver(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Send a batch of queued deliveries; report the messages to offer again."""
    config = settings.get()
    work: list[tuple[dict[str, Any], dict[str, Any]]] = []
    for record in records:
        message = _parse(record)
        if message is None:  # can never succeed: drop it rather than poison the queue
            log.error("dropping malformed delivery message %s", record.get("messageId"))
            continue
        work.append((record, message))
    if not work:
        return {"batchItemFailures": []}
    webhooks = subscriptions.get_many({(m["company_id"], m["webhook_id"]) for _, m in work})

    def one(item: tuple[dict[str, Any], dict[str, Any]]) -> bool:
        record, message = item
        webhook = webhooks.get((message["company_id"], message["webhook_id"]))
        try:
            return deliver_one(message, webhook, _receive_count(record), config)
        except Exception:
            log.exception("delivery %s failed unexpectedly", message["delivery_id"])
            return False

    with ThreadPoolExecutor(max_workers=min(config.delivery_concurrency, len(work))) as pool:
        done = list(pool.map(one, work))
    return {"batchItemFailures": [{"itemIdentifier": record["messageId"]}
                                  for (record, _), ok in zip(work, done, strict=True)
                                  if not ok]}


def deliver_one(message: dict[str, Any], webhook: Webhook | None, receive_count: int,
                config: Settings) -> bool:
    """Attempt one delivery; True when the message is finished with (sent, or nothing is
    to be sent), False when it should be offered again."""
    if webhook is None:
        return True  # deleted: nothing to send, nobody to tell
    manual = message["trigger"] == "manual"
    attempt = delivery_log.claim(message, lease_seconds=config.delivery_timeout_seconds + 30,
                                 retention_days=config.delivery_log_retention_days,
                                 manual=manual)
    if attempt == delivery_log.DONE:
        return True  # a duplicate of a message already dealt with
    if attempt == delivery_log.BUSY:
        return False  # another worker is sending it; if that fails, this copy retries
    assert isinstance(attempt, int)
    started = clock.now()
    if webhook.status != subscriptions.ACTIVE:
        outcome = Outcome(None, "", 0, f"not sent: the webhook is {webhook.status}")
    else:
        outcome = _send(message, webhook, config)
    final = manual or webhook.status != subscriptions.ACTIVE or \
        receive_count >= config.max_attempts
    status = delivery_log.DELIVERED if outcome.succeeded else \
        delivery_log.FAILED if final else delivery_log.PENDING
    delivery_log.record(message, delivery_log.attempt_entry(
        attempt, message["trigger"], started, outcome.duration_ms, outcome.status_code,
        outcome.error, outcome.body), status)
    return status != delivery_log.PENDING


def _send(message: dict[str, Any], webhook: Webhook, config: Settings) -> Outcome:
    try:
        vetted = urlguard.check(webhook.url, allow_http=config.allow_http,
                                allowed=config.allowed_networks)
    except urlguard.UrlNotAllowed as refused:
        return Outcome(None, "", 0, f"not sent: {refused.message}")
    body = notification_body(message, webhook)
    headers = signing.headers(webhook.signing_secret, message["delivery_id"],
                              int(clock.now()), body)
    return outbound.post(vetted, body.encode("utf-8"), headers,
                         connect_timeout=config.delivery_connect_timeout_seconds,
                         total_timeout=config.delivery_timeout_seconds)
