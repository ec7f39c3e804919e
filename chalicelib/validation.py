"""Endpoint validation, Clockodo's handshake before a webhook goes live.

The service POSTs a fresh secret to the endpoint (JSON body ``{"secret": ...}`` and the
same value as the query parameter ``secret``, so receivers written for either form work);
the person types it back (``verify``), which activates the webhook. The secret is stored
only as a hash, expires, and is void after a few wrong tries. It is never logged and never
appears in an API response.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from dataclasses import replace
from urllib.parse import quote

from chalicelib import clock, limits, observability, subscriptions
from chalicelib.delivery import outbound, urlguard
from chalicelib.delivery.outbound import Outcome
from chalicelib.errors import Conflict, Unprocessable
from chalicelib.settings import Settings
from chalicelib.subscriptions import PendingValidation, Webhook


class AlreadyActive(Conflict):
    type = "WebhookAlreadyActive"


class NotRequested(Unprocessable):
    type = "ValidationNotRequested"


class SecretExpired(Unprocessable):
    type = "ValidationSecretExpired"


class WrongSecret(Unprocessable):
    type = "WrongValidationSecret"


class EndpointUnreachable(Unprocessable):
    type = "EndpointUnreachable"


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.strip().lower().encode("utf-8")).hexdigest()


def _with_secret(target: str, secret: str) -> str:
    separator = "&" if "?" in target else "?"
    return f"{target}{separator}secret={quote(secret)}"


def request(webhook: Webhook, settings: Settings,
            resolver: urlguard.Resolver = urlguard.system_resolver) -> tuple[Webhook, Outcome]:
    """Send a new validation secret to the webhook's endpoint.

    The secret is stored (hashed) before it is sent, so a fast receiver and a fast person
    can never race the store. At most ``validations_per_hour`` requests per webhook
    (``TooManyRequests``). Raises ``EndpointUnreachable`` when no HTTP answer came, naming
    the class of failure (timeout, connection, tls) and nothing the far side said.
    """
    if webhook.status == subscriptions.ACTIVE:
        raise AlreadyActive("the webhook is already validated and active")
    # one wall-clock deadline for the whole request, the DNS lookup included
    deadline = time.monotonic() + settings.validation_timeout_seconds
    try:
        vetted = outbound.within(settings.validation_timeout_seconds, lambda: urlguard.check(
            webhook.url, allow_http=settings.allow_http, allowed=settings.allowed_networks,
            resolver=resolver))
    except TimeoutError:
        raise EndpointUnreachable(
            "the validation request got no answer: timeout: the host name did not resolve "
            "within the deadline", path="url",
            details={"reason": "timeout", "error": "timeout resolving the host name",
                     "duration_ms": int(settings.validation_timeout_seconds * 1000)},
        ) from None
    limits.validation_request(webhook.company_id, webhook.webhook_id,
                              settings.validations_per_hour)
    secret = str(uuid.uuid4())
    now = clock.now()
    pending = PendingValidation(_hash(secret), int(now),
                                int(now) + settings.validation_secret_ttl_seconds,
                                settings.validation_max_attempts)
    webhook = subscriptions.save(webhook, replace(webhook, validation=pending))
    outcome = outbound.post(
        vetted,
        json.dumps({"secret": secret}).encode("utf-8"),
        {},
        connect_timeout=min(3.0, settings.validation_timeout_seconds),
        total_timeout=settings.validation_timeout_seconds, deadline=deadline,
        target=_with_secret(vetted.parsed.target, secret),
    )
    observability.logger.info("validation request", extra={
        "company_id": webhook.company_id, "webhook_id": webhook.webhook_id,
        "event_name": webhook.event_name, "status_code": outcome.status_code,
        "reason": outcome.failure_reason, "duration_ms": outcome.duration_ms})
    observability.count("ValidationRequests")
    if outcome.status_code is None:
        raise EndpointUnreachable(
            f"the validation request got no answer: {outcome.error}", path="url",
            details={"reason": outcome.error_class, "error": outcome.error,
                     "duration_ms": outcome.duration_ms},
        )
    return webhook, outcome


def verify(webhook: Webhook, secret: str, settings: Settings) -> Webhook:
    """Check the secret the person typed back; activate the webhook when it is right."""
    if webhook.status == subscriptions.ACTIVE:
        raise AlreadyActive("the webhook is already validated and active")
    pending = webhook.validation
    if pending is None:
        raise NotRequested("no validation is pending: request one with "
                           "POST /v2/webhooks/{id}/validate", path="secret")
    if clock.now() >= pending.expires_at:
        subscriptions.save(webhook, replace(webhook, validation=None))
        raise SecretExpired("the validation secret has expired: request a new validation",
                            path="secret")
    if hmac.compare_digest(_hash(secret), pending.secret_hash):
        active = subscriptions.save(webhook, replace(
            webhook, status=subscriptions.ACTIVE, validated_at=clock.now_iso(),
            validation=None, disabled_reason=None))
        subscriptions.clear_failures(active)
        return replace(active, health=replace(active.health, consecutive_failures=0,
                                              failing_since=None))
    left = pending.attempts_left - 1
    subscriptions.save(webhook, replace(
        webhook, validation=replace(pending, attempts_left=left) if left > 0 else None))
    if left > 0:
        raise WrongSecret(f"the secret is wrong; {left} more attempt(s)", path="secret",
                          details={"attempts_left": left})
    raise WrongSecret("the secret is wrong and no attempts are left: request a new "
                      "validation", path="secret", details={"attempts_left": 0})
