"""The delivery worker: queued deliveries become signed HTTP POSTs and log entries.

Runs on batches of SQS messages and sends a batch's notifications concurrently, so one
slow receiver costs the others nothing beyond its own deadline. Token, URL, status and
signing secrets are read when sending: a webhook deleted meanwhile gets nothing, one that
is no longer active gets nothing and the log says why. Each send is vetted against SSRF
again and pinned to the vetted address.

The retry state lives in the delivery log, not in the queue. A message carries the number
of the automatic attempt it is for and when that is due. A worker sends only after it has
*claimed* that attempt in the log (the next one, due, of a pending delivery no other
worker holds), and only the claiming worker can record its result (fenced by the attempt
number and a lease token), so a copy of a message (SQS duplicates, a retried stream
batch) never sends early or twice, and a worker that outlived its lease cannot overwrite a
newer attempt. A message that is not yet due, or whose delivery is being sent, goes back
on the queue delayed (at most 15 minutes a hop) and is deleted: a waiting delivery holds
no in-flight message. After a failed attempt the message for the next one is queued on
the slow lane, delayed until it is due. After the last attempt the delivery is ``failed``.

At most ``WEBHOOKS_ENDPOINT_CONCURRENCY`` sends are in flight to one webhook (``flow``); a
delivery that finds them all taken waits a turn on the queue, which is no attempt.

A batch's due automatic attempts are claimed, with their slots, in one transaction and
recorded in another (``_deliver_all``); whatever a transaction refuses is delivered on its
own (``deliver_one``), which finds out why.

Manual attempts (redeliveries, recoveries, test events) are attempted once each (a
request id deduplicates copies), numbered apart, and never consume or end the automatic
schedule. Every attempt also updates the endpoint's health: 410 Gone disables the webhook
at once, and so does failing without a break for ``disable_after_seconds``.
"""
from __future__ import annotations

import json
import random
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from chalicelib import aws, clock, observability, settings, subscriptions
from chalicelib.delivery import flow, outbound, queue, signing, urlguard
from chalicelib.delivery import log as delivery_log
from chalicelib.delivery import schedule as retry
from chalicelib.delivery.outbound import Outcome
from chalicelib.settings import Settings
from chalicelib.subscriptions import Webhook

log = observability.logger

AUTOMATIC = "automatic"
#: The delivery queues a worker reads: the main one, the burst lane (a company's
#: deliveries beyond its share of the main one) and the slow lane (failing endpoints).
MAIN, BURSTS, SLOW = "main", "bursts", "slow"


@dataclass(frozen=True)
class Result:
    """What became of one message: finished with (deleted), put back on its queue after
    ``wait`` seconds as ``message`` (a hop; deleted once it is queued), or to be offered
    again by SQS (``again``: the message stays, and comes back after its visibility
    timeout)."""

    again: bool = False
    message: dict[str, Any] | None = None
    wait: int = 0


FINISHED = Result()


def _hop(message: dict[str, Any], wait: float) -> Result:
    return Result(message=message, wait=max(1, int(wait + 0.999)))


def notification_body(message: dict[str, Any], webhook: Webhook) -> str:
    """Exactly Clockodo's notification: ids and the token, never the resource's data."""
    return json.dumps({
        "subscription_id": webhook.webhook_id,
        "company_id": message["company_id"],
        "occurred_at": message["occurred_at"],
        "payload": message.get("payload") or
        {message["resource_type"]: {"id": message["resource_id"]}},
        "event_name": message["event_name"],
        "token": webhook.token,
    })


def deliver(records: list[dict[str, Any]], *, lane: str = MAIN) -> dict[str, Any]:
    """Send a batch of queued deliveries from ``lane``; report the messages to offer again.

    On the main queue and the burst lane, deliveries to an endpoint whose last attempt
    failed are not sent but moved to the slow lane (a queue of its own, with its own
    workers): an endpoint that hangs then holds up only other failing endpoints, never the
    healthy ones. A message that waits goes back on the queue it came from.
    """
    config = settings.get()
    queue_name = {MAIN: config.delivery_queue_name, BURSTS: config.burst_queue_name,
                  SLOW: config.slow_queue_name}[lane]
    work: list[tuple[dict[str, Any], dict[str, Any]]] = []
    unreadable: list[dict[str, Any]] = []
    for record in records:
        message = queue.parse(record.get("body", ""))
        if message is None:
            unreadable.append(record)
            continue
        if message["trigger"] != AUTOMATIC and not isinstance(message["request_id"], str):
            message["request_id"] = str(record.get("messageId"))  # a copy has the same id
        work.append((record, message))
    again = _to_dead_letters(unreadable, config)
    if work:
        webhooks = subscriptions.get_many({(m["company_id"], m["webhook_id"])
                                           for _, m in work})
        if lane != SLOW:
            work = _move_failing_to_slow_lane(work, webhooks, config)

        results = _deliver_all([message for _, message in work], webhooks, config)
        hops = [(record, result) for (record, _), result in zip(work, results, strict=True)
                if result.message is not None]
        refused = set(queue.send([result.message for _, result in hops
                                  if result.message is not None], queue_name,
                                 [result.wait for _, result in hops]))
        again += [record for index, (record, _) in enumerate(hops) if index in refused]
        again += [record for (record, _), result in zip(work, results, strict=True)
                  if result.again]
    return {"batchItemFailures": [{"itemIdentifier": record["messageId"]}
                                  for record in again]}


def deliver_one(message: dict[str, Any], webhook: Webhook | None, config: Settings) -> Result:
    """Attempt one delivery if it is this worker's to attempt now, and log it."""
    if webhook is None:
        return FINISHED  # deleted: nothing to send, nobody to tell
    now = clock.now()
    automatic = message["trigger"] == AUTOMATIC
    if automatic and message["due_at"] > now + 1:
        return _hop(message, message["due_at"] - now)  # early: wait on the queue
    slot = None
    if webhook.status == subscriptions.ACTIVE:
        slot = flow.acquire(webhook.webhook_id, config.endpoint_concurrency,
                            lease_seconds=config.delivery_timeout_seconds + 30)
        if slot is None:  # the endpoint has all it may take: wait a turn, not an attempt
            observability.count("EndpointBusy")
            return _hop(message, random.uniform(1, 4))
    try:
        return _automatic_if_claimed(message, webhook, config, now) if automatic else \
            _manual(message, webhook, config)
    finally:
        if slot is not None:
            flow.release(slot)


def _automatic_if_claimed(message: dict[str, Any], webhook: Webhook, config: Settings,
                          now: float) -> Result:
    """Claim the attempt the message carries (or the one it must carry now) and make it;
    or say why not: done, another worker's, or not yet due."""
    token = uuid.uuid4().hex
    attempt = message["attempt"]
    for _ in range(2):
        state = delivery_log.claim(message, attempt,
                                   lease_seconds=config.delivery_timeout_seconds + 30,
                                   retention_days=config.delivery_log_retention_days,
                                   token=token)
        if state is None:
            return _automatic(message, attempt, token, webhook, config)
        if state.status != delivery_log.PENDING:
            return FINISHED  # delivered or failed: a copy of a message already dealt with
        if state.lease_until >= now:  # another worker is sending: look again after it
            return _hop(message, state.lease_until - now + 1)
        following = state.attempt_count + 1
        if attempt < following and state.queued >= following:
            return FINISHED  # a stale copy: the next attempt's message is on its way
        # this message carries the next attempt (its own message could not be queued, or
        # its worker crashed before recording)
        attempt = following
        if state.next_attempt_at > now:
            return _hop({**message, "attempt": attempt, "due_at": state.next_attempt_at},
                        state.next_attempt_at - now)
    return _hop(message, 1)  # lost a race for the claim twice: look again shortly


def _automatic(message: dict[str, Any], attempt: int, token: str, webhook: Webhook,
               config: Settings) -> Result:
    """Make the claimed automatic attempt, queue the next one when it failed, record."""
    made = _attempt(_Claimed(message, webhook, attempt, token), config)
    _queue_following([made], config)
    return _finished(made, delivery_log.record(**_record_arguments(made)), config)


@dataclass
class _Claimed:
    """An automatic attempt this worker has claimed (and the endpoint slot it took)."""

    message: dict[str, Any]
    webhook: Webhook
    attempt: int
    token: str
    slot: flow.Slot | None = None


@dataclass
class _Made:
    """A claimed attempt, made: its outcome, what is next, and the log's new status."""

    claimed: _Claimed
    outcome: Outcome
    started: float
    status: str
    delay: int | None  # seconds until the next attempt (None: no other attempt)
    next_at: int = 0
    queued: int = 0  # the highest attempt a message is queued for


def _attempt(claimed: _Claimed, config: Settings) -> _Made:
    """Send a claimed automatic attempt (or not: the webhook is no longer active) and
    decide what follows it."""
    message, webhook, attempt = claimed.message, claimed.webhook, claimed.attempt
    started = clock.now()
    active = webhook.status == subscriptions.ACTIVE
    outcome = _send(message, webhook, config) if active else _inactive(webhook)
    delay = None
    if not outcome.succeeded and active and outcome.status_code != 410:
        delay = retry.next_delay(
            attempt, config.retry_schedule, status_code=outcome.status_code,
            retry_after=retry.parse_retry_after(outcome.retry_after, clock.now()),
            retry_after_cap=config.retry_after_cap_seconds)
    status = delivery_log.DELIVERED if outcome.succeeded else \
        delivery_log.PENDING if delay is not None else delivery_log.FAILED
    next_at = int(started + outcome.duration_ms / 1000 + delay) if delay is not None else 0
    return _Made(claimed, outcome, started, status, delay, next_at, attempt)


def _queue_following(made: list[_Made], config: Settings) -> None:
    """Queue the next attempt's message of each failed attempt that has one, on the slow
    lane (its endpoint just failed), hidden until it is due; the log then says it is
    queued, so copies of the message of the failed attempt are dropped."""
    following = [one for one in made if one.delay is not None]
    if not following:
        return
    try:
        refused = set(queue.send(
            [{**one.claimed.message, "attempt": one.claimed.attempt + 1,
              "due_at": one.next_at} for one in following], config.slow_queue_name,
            [int(one.delay or 0) for one in following]))
    except Exception:  # the failed attempts' own messages come back and carry the next
        log.exception("cannot queue the next attempts")
        return
    for index, one in enumerate(following):
        if index not in refused:
            one.queued = one.claimed.attempt + 1


def _record_arguments(made: _Made) -> dict[str, Any]:
    """What ``delivery_log.record`` and ``record_update`` take for an attempt made."""
    claimed, outcome = made.claimed, made.outcome
    return {"message": claimed.message, "status": made.status, "token": claimed.token,
            "next_attempt_at": made.next_at, "queued": made.queued,
            "attempt": delivery_log.attempt_entry(
                claimed.attempt, claimed.message["trigger"], made.started,
                outcome.duration_ms, outcome.status_code, outcome.error, outcome.body,
                next_attempt_in=made.delay)}


def _finished(made: _Made, recorded: bool, config: Settings) -> Result:
    """After the attempt's record was written (or refused: ``recorded`` False, another
    worker took the delivery over), its log line, metrics and endpoint health."""
    claimed = made.claimed
    if not recorded:
        log.warning("stale attempt: another worker took the delivery over, this result is "
                    "not recorded", extra={**_ids(claimed.message), "attempt": claimed.attempt})
        observability.count("StaleAttempts")
        return FINISHED
    _observe(claimed.message, claimed.attempt, made.outcome, made.status, made.delay)
    if claimed.webhook.status == subscriptions.ACTIVE:
        _note_health(claimed.webhook, made.outcome, made.started, config)
    # the next attempt's message could not be queued: this one comes back and carries it
    return Result(again=True) if made.delay is not None and \
        made.queued == claimed.attempt else FINISHED


def _deliver_all(messages: list[dict[str, Any]], webhooks: dict[tuple[int, int], Webhook],
                 config: Settings) -> list[Result]:
    """Deliver a batch's messages concurrently, the healthy path at a fixed number of
    AWS calls whatever the batch's size: the automatic attempts that are due are claimed,
    with an endpoint slot each, in one transaction, and recorded, their slots given back,
    in another. A message whose claim that transaction refuses (a copy, a slot another
    container holds, an attempt the log does not expect) is then delivered on its own
    (``deliver_one``), which finds out why and acts on it."""
    now = clock.now()
    # every claim is taken at the start, so its lease covers the rounds of sends before it
    rounds = -(-len(messages) // max(1, config.delivery_concurrency))
    lease = rounds * config.delivery_timeout_seconds + 30
    results: list[Result | None] = [None] * len(messages)
    claiming: dict[int, _Claimed] = {}
    deliveries: set[tuple[int, str]] = set()
    for index, message in enumerate(messages):
        webhook = webhooks.get((message["company_id"], message["webhook_id"]))
        key = (message["webhook_id"], message["delivery_id"])
        if webhook is None or message["trigger"] != AUTOMATIC or key in deliveries:
            continue  # on its own (a copy too: one transaction takes one action an item)
        if message["due_at"] > now + 1:
            results[index] = _hop(message, message["due_at"] - now)
            continue
        slot = None
        if webhook.status == subscriptions.ACTIVE:
            slot = flow.reserve(webhook.webhook_id, config.endpoint_concurrency)
            if slot is None:
                continue  # the container holds every slot: on its own, it waits a turn
        deliveries.add(key)
        claiming[index] = _Claimed(message, webhook, message["attempt"], uuid.uuid4().hex,
                                   slot)
    claimed = _claim_all(list(claiming.values()), lease)
    claiming = {index: one for index, one in claiming.items() if claimed[id(one)]}

    def work(index: int) -> Result | _Made:
        message = messages[index]
        try:
            if index in claiming:
                return _attempt(claiming[index], config)
            return deliver_one(message, webhooks.get((message["company_id"],
                                                      message["webhook_id"])), config)
        except Exception:
            log.exception("delivery failed unexpectedly", extra=_ids(message))
            slot = claiming[index].slot if index in claiming else None
            if slot is not None:
                try:
                    flow.release(slot)  # which forgets it, whatever happens
                except Exception:  # its lease runs out
                    log.exception("cannot give an endpoint slot back")
            return Result(again=True)

    made: dict[int, _Made] = {}
    todo = [index for index, result in enumerate(results) if result is None]
    if todo:
        with ThreadPoolExecutor(max_workers=min(config.delivery_concurrency,
                                                len(todo))) as pool:
            for index, done in zip(todo, pool.map(observability.in_this_context(work), todo),
                                   strict=True):
                if isinstance(done, _Made):
                    made[index] = done
                else:
                    results[index] = done
    _queue_following(list(made.values()), config)
    for index, recorded in _record_all(made).items():
        try:
            results[index] = Result(again=True) if recorded is None else \
                _finished(made[index], recorded, config)
        except Exception:  # recorded: a failed health write must not fail the batch
            log.exception("after a delivery attempt", extra=_ids(messages[index]))
            results[index] = FINISHED
    return [result if result is not None else Result(again=True) for result in results]


def _claim_all(claiming: list[_Claimed], lease: float) -> dict[int, bool]:
    """Claim the attempts, each with its slot, in one transaction: by ``id`` of each,
    whether it is claimed. The slot of one that is not is forgotten again."""
    written: list[bool | None] = [None] * len(claiming)
    try:
        groups = [[{"Update": delivery_log.claim_update(
            one.message, one.attempt, lease_seconds=lease, token=one.token,
            retention_days=settings.get().delivery_log_retention_days)}]
            + ([{"Update": flow.take_update(one.slot, lease)}] if one.slot else [])
            for one in claiming]
        if groups:
            written = aws.transact_groups(groups)
    except Exception:
        log.exception("cannot claim a batch's attempts together: one at a time instead")
    for one, ok in zip(claiming, written, strict=True):
        if not ok and one.slot is not None:
            flow.forget(one.slot)
    return {id(one): bool(ok) for one, ok in zip(claiming, written, strict=True)}


def _record_all(made: dict[int, _Made]) -> dict[int, bool | None]:
    """Record the attempts made and give their slots back, in one transaction (each record
    and each slot on its own: a record the log refuses is a stale attempt, a slot whose
    lease ran out is another worker's now); what the transaction could not write is
    written one item at a time. By index, whether the attempt was recorded (None: it
    could not be written at all)."""
    indexes = list(made)
    given = [made[index].claimed.slot for index in indexes
             if made[index].claimed.slot is not None]
    written: list[bool | None] = [None] * (len(indexes) + len(given))
    try:
        groups = [[{"Update": delivery_log.record_update(**_record_arguments(made[index]))}]
                  for index in indexes] + [[{"Update": flow.give_update(slot)}]
                                           for slot in given if slot is not None]
        if groups:
            written = aws.transact_groups(groups)
    except Exception:
        log.exception("cannot record a batch's attempts together: one at a time instead")
    recorded: dict[int, bool | None] = {}
    try:
        for index, ok in zip(indexes, written, strict=False):
            recorded[index] = ok
            if ok is None:
                try:
                    recorded[index] = delivery_log.record(**_record_arguments(made[index]))
                except Exception:  # made, not recorded: the message comes back (lease)
                    log.exception("cannot record an attempt",
                                  extra=_ids(made[index].claimed.message))
    finally:  # every slot is given back or, given back already, forgotten
        for slot, ok in zip(given, written[len(indexes):], strict=True):
            if slot is None:
                continue
            if ok is not None:
                flow.forget(slot)
                continue
            try:
                flow.release(slot)  # which forgets it, whatever happens
            except Exception:  # its lease runs out
                log.exception("cannot give an endpoint slot back")
    return recorded


def _manual(message: dict[str, Any], webhook: Webhook, config: Settings) -> Result:
    """One manual attempt (redelivery, recovery, test event), once per request: claimed
    and recorded as an automatic attempt is, so a worker that dies in between leaves a
    lease that runs out, and the request's message, back on the queue, makes it then."""
    token = uuid.uuid4().hex
    request_id = str(message["request_id"])
    claim = delivery_log.claim_manual(message, request_id,
                                      lease_seconds=config.delivery_timeout_seconds + 30,
                                      retention_days=config.delivery_log_retention_days,
                                      token=token)
    if claim is None:
        wait = delivery_log.manual_wait(message, request_id)
        if wait is None:
            return FINISHED  # a copy of a request already attempted
        return _hop(message, wait + 1)  # another manual attempt of it is being made
    started = clock.now()
    active = webhook.status == subscriptions.ACTIVE
    outcome = _send(message, webhook, config) if active else _inactive(webhook)
    if not delivery_log.record_manual(message, delivery_log.attempt_entry(
            claim.number, message["trigger"], started, outcome.duration_ms,
            outcome.status_code, outcome.error, outcome.body), outcome.succeeded,
            claim.scheduled, request_id=request_id, token=token):
        log.warning("stale attempt: another worker took the delivery over, this result is "
                    "not recorded", extra={**_ids(message), "attempt": claim.number})
        observability.count("StaleAttempts")
        return FINISHED
    status = delivery_log.DELIVERED if outcome.succeeded else \
        claim.status if claim.scheduled else delivery_log.FAILED
    _observe(message, claim.number, outcome, status, None)
    if active:
        _note_health(webhook, outcome, started, config)
    return FINISHED


def _inactive(webhook: Webhook) -> Outcome:
    return Outcome(None, "", 0, f"not sent: the webhook is {webhook.status}"
                   + (f" ({webhook.disabled_reason})" if webhook.disabled_reason else ""),
                   error_class="inactive")


def _to_dead_letters(records: list[dict[str, Any]], config: Settings) -> list[dict[str, Any]]:
    """Messages no version of the worker can deliver go to the dead-letter queue whole
    (its handler logs them); those it refuses stay, to be offered again."""
    if not records:
        return []
    for record in records:
        log.error("unreadable delivery message: to the dead-letter queue",
                  extra={"message_id": record.get("messageId")})
    refused = queue.send_bodies([str(record.get("body", "")) for record in records],
                                config.dead_letter_queue_name)
    return [records[index] for index in refused]


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
