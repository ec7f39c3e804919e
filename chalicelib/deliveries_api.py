"""The delivery log API ("Protokoll einsehen") and redelivery, private to the webhook's
company: every function first finds the webhook in the caller's company (404 otherwise)."""
from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from typing import Any

from chalicelib import (
    catalogue,
    clock,
    inputs,
    settings,
    subscriptions,
    webhooks_api,
)
from chalicelib.auth import Caller
from chalicelib.delivery import log as delivery_log
from chalicelib.delivery import queue
from chalicelib.delivery import recovery as recovery_jobs
from chalicelib.errors import Conflict, NotFound, ServiceUnavailable, Unprocessable

DELIVERY_ID = re.compile(r"^msg_[0-9a-f]{32}$")
LIST_PARAMS = ("cursor", "items_per_page", "filter[status]")


def _delivery_id(value: str) -> str:
    if not DELIVERY_ID.match(value):
        raise NotFound(f"no delivery {value[:40]!r}", path="delivery_id")
    return value


def list_page(caller: Caller, webhook_id: int, query: Mapping[str, str] | None) -> dict[str, Any]:
    """One page of the webhook's deliveries, newest first (of one status with
    ``filter[status]``); ``paging.next_cursor`` leads to the next. Reads only the page."""
    webhook = webhooks_api.find(caller, webhook_id)
    params = inputs.query(query, LIST_PARAMS)
    per_page = inputs.positive_int(params, "items_per_page", 50, 500)
    after = inputs.cursor(params, lambda position: bool(DELIVERY_ID.match(position)))
    status = None
    if "filter[status]" in params:
        status = inputs.choice(params["filter[status]"], "filter[status]",
                               delivery_log.STATUSES)
    found, last = delivery_log.page_for(webhook.webhook_id, per_page, after, status)
    return inputs.cursor_page(found, per_page, last)


def get(caller: Caller, webhook_id: int, delivery_id: str) -> dict[str, Any]:
    """One delivery with its attempts."""
    webhook = webhooks_api.find(caller, webhook_id)
    return delivery_log.get(webhook.webhook_id, _delivery_id(delivery_id))


def redeliver(caller: Caller, webhook_id: int, delivery_id: str) -> dict[str, Any]:
    """Queue the delivery again, with the same ``webhook-id``."""
    webhook = webhooks_api.find(caller, webhook_id)
    delivery = delivery_log.get(webhook.webhook_id, _delivery_id(delivery_id))
    if webhook.status != subscriptions.ACTIVE:
        raise Conflict(f"the webhook is {webhook.status}; only active webhooks are sent to",
                       type="WebhookNotActive")
    if queue.send([delivery_log.message_of(webhook.webhook_id, delivery,
                                           caller.company.company_id)]):
        raise ServiceUnavailable("the redelivery could not be queued; try again")
    return delivery


def send_test(caller: Caller, webhook_id: int) -> dict[str, Any]:
    """Queue an example notification of the webhook's event: Clockodo's body with resource
    id 0 (which no resource has), sent, signed and logged like any delivery, once, and
    marked as a test in the log (as Stripe's, GitHub's and Svix's test events)."""
    webhook = webhooks_api.find(caller, webhook_id)
    if webhook.status != subscriptions.ACTIVE:
        raise Conflict(f"the webhook is {webhook.status}; only active webhooks are sent to",
                       type="WebhookNotActive")
    now = clock.now()
    message = {
        # the time first, as in every delivery id, so that the log lists it in order
        "delivery_id": f"msg_{int(now * 1000):012x}{secrets.token_hex(10)}",
        "company_id": caller.company.company_id, "webhook_id": webhook.webhook_id,
        "event_name": webhook.event_name, "resource_type": catalogue.type_of(webhook.event_name),
        "resource_id": 0, "occurred_at": clock.iso(now), "trigger": delivery_log.TEST,
        "request_id": secrets.token_hex(10),
    }
    if queue.send([message]):
        raise ServiceUnavailable("the test event could not be queued; try again")
    return {"id": message["delivery_id"], "event_name": message["event_name"],
            "resource_type": message["resource_type"], "resource_id": 0,
            "occurred_at": message["occurred_at"], "test": True}


def recover(caller: Caller, webhook_id: int, raw: bytes | str | None
            ) -> tuple[dict[str, Any], bool]:
    """Start a job that sends every failed delivery of the webhook since ``since`` again
    (same ids), and whether it started now: the same request within a day answers the
    job it started."""
    config = settings.get()
    body = inputs.json_object(raw, max_bytes=config.max_body_bytes, allowed=("since",))
    since_text = inputs.required_string(body, "since", max_length=40)
    try:
        since = clock.parse_iso(since_text)
    except ValueError:
        raise Unprocessable("since must be an ISO 8601 date and time with a time zone, "
                            "e.g. 2026-05-10T17:02:00Z", path="since") from None
    now = clock.now()
    earliest = now - config.recover_max_days * 86400
    if not earliest <= since.timestamp() <= now:
        raise Unprocessable(f"since must lie within the last {config.recover_max_days} days",
                            path="since", type="NotBetween",
                            details={"earliest": clock.iso(earliest), "latest": clock.iso(now)})
    webhook = webhooks_api.find(caller, webhook_id)
    if webhook.status != subscriptions.ACTIVE:
        raise Conflict(f"the webhook is {webhook.status}; only active webhooks are sent to",
                       type="WebhookNotActive")
    return recovery_jobs.start(caller.company.company_id, webhook.webhook_id,
                          clock.iso(since.timestamp()))


def recovery(caller: Caller, webhook_id: int, job_id: str) -> dict[str, Any]:
    """A recovery job's progress."""
    webhook = webhooks_api.find(caller, webhook_id)
    return recovery_jobs.get(caller.company.company_id, webhook.webhook_id, job_id)
