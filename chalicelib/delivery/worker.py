"""The delivery worker: queued deliveries become signed HTTP POSTs and log entries.

Runs on batches of SQS messages and sends a batch's notifications concurrently, so one
slow receiver costs the others nothing beyond its own timeout. Token, URL, status and
signing secrets are read when sending: a webhook deleted meanwhile gets nothing, one that
is no longer active gets nothing and the log says why. Each send is vetted against SSRF
again and pinned to the vetted address.

A failed attempt is logged and its message hidden in the queue until the next attempt is
due (the retry schedule, or a longer ``Retry-After``), then reported back
(``batchItemFailures``) so that SQS offers it again. After the last attempt the delivery
is ``failed``. Every attempt also updates the endpoint's health: 410 Gone disables the
webhook at once, and so does failing without a break for ``disable_after_seconds``.
"""
from __future__ import annotations

import json
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from chalicelib import aws, clock, observability, settings, subscriptions
from chalicelib.delivery import log as delivery_log
from chalicelib.delivery import outbound, queue, signing, urlguard
from chalicelib.delivery import schedule as retry
from chalicelib.delivery.outbound import Outcome
from chalicelib.settings import Settings
from chalicelib.subscriptions import Webhook

log = observability.logger

MESSAGE_FIELDS = frozenset({"delivery_id", "company_id", "webhook_id", "event_name",
                            "resource_type", "resource_id", "occurred_at", "trigger"})


@dataclass(frozen=True)
class Result:
    """What became of one message: finished with, or to be offered again after
    ``retry_in`` seconds."""

    done: bool
    retry_in: int | None = None


FINISHED = Result(True)


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


def deliver(records: list[dict[str, Any]], *, slow_lane: bool = False) -> dict[str, Any]:
    """Send a batch of queued deliveries; report the messages to offer again.

    On the main queue, deliveries to an endpoint whose last attempt failed are not sent
    but moved to the slow lane (a queue of its own, with its own workers): an endpoint
    that hangs then holds up only other failing endpoints, never the healthy ones.
    """
    config = settings.get()
    work: list[tuple[dict[str, Any], dict[str, Any]]] = []
    for record in records:
        message = _parse(record)
        if message is None:  # can never succeed: drop it rather than poison the queue
            log.error("dropping malformed delivery message",
                      extra={"message_id": record.get("messageId")})
            continue
        work.append((record, message))
    if not work:
        return {"batchItemFailures": []}
    webhooks = subscriptions.get_many({(m["company_id"], m["webhook_id"]) for _, m in work})
    if not slow_lane:
        work = _move_failing_to_slow_lane(work, webhooks, config)
        if not work:
            return {"batchItemFailures": []}

    def one(item: tuple[dict[str, Any], dict[str, Any]]) -> Result:
        _, message = item
        webhook = webhooks.get((message["company_id"], message["webhook_id"]))
        try:
            return deliver_one(message, webhook, config)
        except Exception:
            log.exception("delivery failed unexpectedly", extra=_ids(message))
            return Result(False)

    with ThreadPoolExecutor(max_workers=min(config.delivery_concurrency, len(work))) as pool:
        results = list(pool.map(observability.in_this_context(one), work))
    again = [(record, result) for (record, _), result in zip(work, results, strict=True)
             if not result.done]
    _hide_until_due([(record, result.retry_in) for record, result in again
                     if result.retry_in is not None],
                    config.slow_queue_name if slow_lane else config.delivery_queue_name)
    return {"batchItemFailures": [{"itemIdentifier": record["messageId"]}
                                  for record, _ in again]}


def deliver_one(message: dict[str, Any], webhook: Webhook | None, config: Settings) -> Result:
    """Attempt one delivery and log it."""
    if webhook is None:
        return FINISHED  # deleted: nothing to send, nobody to tell
    manual = message["trigger"] != "automatic"  # redeliveries and test events: one attempt
    attempt = delivery_log.claim(message, lease_seconds=config.delivery_timeout_seconds + 30,
                                 retention_days=config.delivery_log_retention_days,
                                 manual=manual)
    if attempt == delivery_log.DONE:
        return FINISHED  # a duplicate of a message already dealt with
    if attempt == delivery_log.BUSY:
        return Result(False)  # another worker is sending it; if that fails, this copy retries
    assert isinstance(attempt, int)
    started = clock.now()
    active = webhook.status == subscriptions.ACTIVE
    outcome = _send(message, webhook, config) if active else \
        Outcome(None, "", 0, f"not sent: the webhook is {webhook.status}"
                + (f" ({webhook.disabled_reason})" if webhook.disabled_reason else ""),
                error_class="inactive")
    delay = None
    if not outcome.succeeded and active and not manual and outcome.status_code != 410:
        delay = retry.next_delay(
            attempt, config.retry_schedule, status_code=outcome.status_code,
            retry_after=retry.parse_retry_after(outcome.retry_after, clock.now()),
            retry_after_cap=config.retry_after_cap_seconds)
    status = delivery_log.DELIVERED if outcome.succeeded else \
        delivery_log.PENDING if delay is not None else delivery_log.FAILED
    delivery_log.record(message, delivery_log.attempt_entry(
        attempt, message["trigger"], started, outcome.duration_ms, outcome.status_code,
        outcome.error, outcome.body, next_attempt_in=delay), status)
    _observe(message, attempt, outcome, status, delay)
    if active:
        _note_health(webhook, outcome, started, config)
    return FINISHED if delay is None else Result(False, delay)


def _ids(message: dict[str, Any]) -> dict[str, Any]:
    """What lets an operator follow one delivery through the logs."""
    return {key: message.get(key) for key in ("delivery_id", "webhook_id", "company_id",
                                               "event_name", "trigger")}


def _observe(message: dict[str, Any], attempt: int, outcome: Outcome, status: str,
             delay: int | None) -> None:
    """One log line and the metrics of one attempt (never the token, URL or secret)."""
    reason = outcome.failure_reason
    log.info("delivery attempt", extra={
        **_ids(message), "attempt": attempt, "outcome": status, "status_code":
        outcome.status_code, "reason": reason, "duration_ms": outcome.duration_ms,
        "next_attempt_in": delay})
    observability.count("Attempts")
    observability.count("AttemptLatency", outcome.duration_ms, "Milliseconds")
    if reason is None:
        observability.count("SuccessfulAttempts")
    else:
        observability.count_by("FailedAttempts", "reason", Counter({reason: 1}))
    if delay is not None:
        observability.count("RetriesScheduled")


def _send(message: dict[str, Any], webhook: Webhook, config: Settings) -> Outcome:
    """Vet, sign and POST, all within one wall-clock deadline (the DNS lookup included)."""
    started = time.monotonic()
    deadline = started + config.delivery_timeout_seconds
    try:
        vetted = outbound.within(config.delivery_timeout_seconds, lambda: urlguard.check(
            webhook.url, allow_http=config.allow_http, allowed=config.allowed_networks))
    except urlguard.UrlNotAllowed as refused:
        return Outcome(None, "", 0, f"not sent: {refused.message}", error_class="url_refused")
    except TimeoutError:
        return outbound.timed_out(int((time.monotonic() - started) * 1000),
                                  "address for the host")
    body = notification_body(message, webhook)
    now = clock.now()
    headers = signing.headers(webhook.signing_secrets(now), message["delivery_id"], int(now),
                              body)
    return outbound.post(vetted, body.encode("utf-8"), headers,
                         connect_timeout=config.delivery_connect_timeout_seconds,
                         total_timeout=config.delivery_timeout_seconds, deadline=deadline)


class _Throttle:
    """Remembers, per container, when each webhook's health was last written after a
    success, so that a healthy endpoint costs one health write a minute, not one a
    delivery. Failures, and the first success after them, are always written."""

    def __init__(self, interval: float) -> None:
        self._interval = interval
        self._written: dict[tuple[int, int], float] = {}
        self._lock = threading.Lock()

    def due(self, key: tuple[int, int], now: float) -> bool:
        with self._lock:
            if now - self._written.get(key, float("-inf")) < self._interval:
                return False
            self._written[key] = now
            return True


_success_writes = _Throttle(60)


def _note_health(webhook: Webhook, outcome: Outcome, when: float, config: Settings) -> None:
    if outcome.succeeded and webhook.health.consecutive_failures == 0 and \
            not _success_writes.due((webhook.company_id, webhook.webhook_id), when):
        return
    health = subscriptions.record_health(webhook, outcome.succeeded, when)
    if outcome.status_code == 410:
        reason = "the endpoint answered 410 Gone"
    elif health.failing_since is not None and \
            when - health.failing_since >= config.disable_after_seconds:
        reason = (f"every delivery failed for {_duration(config.disable_after_seconds)} "
                  f"({health.consecutive_failures} attempts)")
    else:
        return
    if subscriptions.disable(webhook, reason):
        observability.count("WebhooksDisabled")
        log.warning("webhook disabled", extra={"company_id": webhook.company_id,
                                               "webhook_id": webhook.webhook_id,
                                               "reason": reason})


def _move_failing_to_slow_lane(work: list[tuple[dict[str, Any], dict[str, Any]]],
                               webhooks: dict[tuple[int, int], Webhook],
                               config: Settings) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """Forward the messages of failing endpoints to the slow lane; the rest stay here.
    A message that cannot be forwarded is simply sent here."""
    def failing(message: dict[str, Any]) -> bool:
        webhook = webhooks.get((message["company_id"], message["webhook_id"]))
        return webhook is not None and webhook.status == subscriptions.ACTIVE \
            and webhook.health.consecutive_failures > 0
    moving = [item for item in work if failing(item[1])]
    if not moving:
        return work
    refused = set(queue.send([message for _, message in moving],
                             queue_name=config.slow_queue_name))
    moved = {id(item) for index, item in enumerate(moving) if index not in refused}
    observability.count("MovedToSlowLane", len(moved))
    return [item for item in work if id(item) not in moved]


def _duration(seconds: int) -> str:
    for unit, size in (("days", 86400), ("hours", 3600), ("minutes", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size} {unit}"
    return f"{seconds} seconds"


def _hide_until_due(retries: list[tuple[dict[str, Any], int]], queue_name: str) -> None:
    """Keep each message out of sight until its next attempt is due (SQS visibility; up to
    12 h). If this fails the message comes back after the queue's own visibility timeout,
    which is early but loses nothing."""
    if not retries:
        return
    url = aws.queue_url(queue_name)
    for start in range(0, len(retries), 10):
        entries = [{"Id": str(i), "ReceiptHandle": record["receiptHandle"],
                    "VisibilityTimeout": delay}
                   for i, (record, delay) in enumerate(retries[start:start + 10])]
        try:
            aws.sqs().change_message_visibility_batch(QueueUrl=url, Entries=entries)
        except Exception:
            log.exception("cannot schedule retries", extra={"messages": len(entries)})
