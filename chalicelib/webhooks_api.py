"""The webhook subscriptions API: input checks and plan rules around the store.

Every function takes the authenticated ``Caller`` and touches only the caller's company.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from chalicelib import (
    catalogue,
    clock,
    inputs,
    plans,
    settings,
    subscriptions,
    validation,
)
from chalicelib.auth import Caller
from chalicelib.delivery import signing, urlguard
from chalicelib.errors import Unprocessable
from chalicelib.subscriptions import Webhook

FIELDS = ("event_name", "url", "token")
LIST_PARAMS = ("cursor", "items_per_page", "filter[event_name]", "filter[status]")
MAX_ITEMS_PER_PAGE = 1000
DEFAULT_ITEMS_PER_PAGE = 100


def events(caller: Caller) -> list[dict[str, Any]]:
    """The event catalogue with the caller's remaining limit per type."""
    used = subscriptions.usage(caller.company.company_id)
    return plans.catalogue_for(settings.get(), caller.company.plan, used)


def find(caller: Caller, webhook_id: int) -> Webhook:
    """One of the caller's webhooks (404 for any other id)."""
    return subscriptions.get(caller.company.company_id, webhook_id)


def get(caller: Caller, webhook_id: int) -> dict[str, Any]:
    return find(caller, webhook_id).to_json()


def list_page(caller: Caller, query: Mapping[str, str] | None) -> dict[str, Any]:
    """One page of the caller's webhooks by id, optionally filtered by event and status;
    ``paging.next_cursor`` leads to the next. A filtered page reads on until it is full:
    the company's webhooks, which the plan bounds, are one key range."""
    params = inputs.query(query, LIST_PARAMS)
    per_page = inputs.positive_int(params, "items_per_page", DEFAULT_ITEMS_PER_PAGE,
                                   MAX_ITEMS_PER_PAGE)
    after = inputs.cursor(params, lambda position: position.isascii()
                          and position.isdigit() and len(position) <= 15)
    event_name = status = None
    if "filter[event_name]" in params:
        event_name = _event_name(params["filter[event_name]"], "filter[event_name]")
    if "filter[status]" in params:
        status = inputs.choice(params["filter[status]"], "filter[status]",
                               subscriptions.STATUSES)

    def wanted(webhook: Webhook) -> bool:
        return event_name in (None, webhook.event_name) and status in (None, webhook.status)

    found: list[Webhook] = []
    position = int(after) if after is not None else None
    while True:
        webhooks, position = subscriptions.page_for(caller.company.company_id,
                                                    per_page - len(found), position)
        found += [w for w in webhooks if wanted(w)]
        if position is None or len(found) == per_page:
            break
    return inputs.cursor_page([w.to_json() for w in found], per_page,
                              None if position is None else str(position))


def _event_name(value: Any, path: str = "event_name") -> str:
    return inputs.choice(value, path, catalogue.event_names(),
                         " (see GET /v2/webhooks/events)")


def _url(value: Any) -> str:
    config = settings.get()
    urlguard.check(value, allow_http=config.allow_http, allowed=config.allowed_networks)
    return str(value)


def _limit_error(caller: Caller, event_name: str) -> Callable[[], Exception]:
    plan = caller.company.plan
    limit = plans.limit_per_type(settings.get(), plan)
    return lambda: plans.limit_reached(catalogue.type_of(event_name), plan, limit)


def create(caller: Caller, raw_body: bytes | str | None) -> dict[str, Any]:
    """Create a webhook in ``pending_validation``."""
    config = settings.get()
    body = inputs.json_object(raw_body, max_bytes=config.max_body_bytes, allowed=FIELDS)
    event_name = _event_name(inputs.required_string(body, "event_name"))
    token = inputs.required_string(body, "token")
    url = _url(inputs.required_string(body, "url", max_length=urlguard.MAX_URL_LENGTH))
    plans.require_event_allowed(config, caller.company.plan, event_name)
    webhook = subscriptions.create(
        caller.company.company_id, event_name, url, token,
        limit=plans.limit_per_type(config, caller.company.plan),
        on_limit=_limit_error(caller, event_name),
    )
    return webhook.to_json()


def edit(caller: Caller, webhook_id: int, raw_body: bytes | str | None) -> dict[str, Any]:
    """Change a webhook's event, URL or token; a new URL needs a new validation."""
    config = settings.get()
    body = inputs.json_object(raw_body, max_bytes=config.max_body_bytes, allowed=FIELDS)
    if not body:
        raise Unprocessable(f"send at least one of {', '.join(FIELDS)}", path="body",
                                   type="Empty")
    event_name = inputs.optional_string(body, "event_name")
    if event_name is not None:
        event_name = _event_name(event_name)
        plans.require_event_allowed(config, caller.company.plan, event_name)
    token = inputs.optional_string(body, "token")
    url = inputs.optional_string(body, "url", max_length=urlguard.MAX_URL_LENGTH)
    current = find(caller, webhook_id)
    if url is not None and url != current.url:
        url = _url(url)
    changed = subscriptions.update(
        current, event_name=event_name, url=url, token=token,
        limit=plans.limit_per_type(config, caller.company.plan),
        on_limit=_limit_error(caller, event_name or current.event_name),
    )
    return changed.to_json()


def delete(caller: Caller, webhook_id: int) -> None:
    subscriptions.delete(find(caller, webhook_id))


def validate(caller: Caller, webhook_id: int) -> dict[str, Any]:
    """Send a new validation secret to the webhook's endpoint; what the endpoint did."""
    webhook, outcome = validation.request(find(caller, webhook_id), settings.get())
    return {
        "webhook": webhook.to_json(),
        "validation_request": {"status_code": outcome.status_code,
                               "accepted": outcome.succeeded,
                               "duration_ms": outcome.duration_ms},
    }


def verify(caller: Caller, webhook_id: int, raw_body: bytes | str | None) -> dict[str, Any]:
    """Check the secret the person typed back (``{"secret": "<uuid>"}``)."""
    webhook = find(caller, webhook_id)
    body = inputs.json_object(raw_body, max_bytes=settings.get().max_body_bytes,
                              allowed=("secret",))
    secret = inputs.required_string(body, "secret", max_length=100)
    return validation.verify(webhook, secret, settings.get()).to_json()


def secret(caller: Caller, webhook_id: int) -> dict[str, Any]:
    """The webhook's signing secret, and during a rotation's grace period the previous one."""
    webhook = find(caller, webhook_id)
    in_grace = len(webhook.signing_secrets(clock.now())) > 1
    return {
        "secret": webhook.signing_secret,
        "previous_secret": webhook.previous_signing_secret if in_grace else None,
        "previous_secret_expires_at": clock.iso(webhook.previous_secret_expires_at)
        if in_grace and webhook.previous_secret_expires_at is not None else None,
    }


def rotate_secret(caller: Caller, webhook_id: int) -> dict[str, Any]:
    """A new signing secret; the old one keeps signing too for the grace period."""
    webhook = find(caller, webhook_id)
    subscriptions.save(webhook, replace(
        webhook, signing_secret=signing.new_secret(),
        previous_signing_secret=webhook.signing_secret,
        previous_secret_expires_at=int(clock.now()) + settings.get().secret_grace_seconds))
    return secret(caller, webhook_id)
