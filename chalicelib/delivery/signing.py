"""Signing notifications the Standard Webhooks way.

Each webhook has its own secret, ``whsec_`` + base64 of 32 random bytes. A notification
carries ``webhook-id`` (the delivery id, the same on every retry: the receiver's dedupe
key), ``webhook-timestamp`` (unix seconds) and ``webhook-signature`` (``v1,<base64
HMAC-SHA256 of "{id}.{timestamp}.{body}">``), made by the ``standardwebhooks`` reference
implementation so that any Standard Webhooks verifier accepts it.
"""
from __future__ import annotations

import base64
import secrets
from datetime import UTC, datetime

SECRET_PREFIX = "whsec_"  # noqa: S105 - a prefix, not a secret


def new_secret() -> str:
    """A fresh signing secret."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode("ascii")


def headers(secrets: list[str], message_id: str, timestamp: int,
            body: str) -> dict[str, str]:
    """The three Standard Webhooks headers for one request, signed by every secret given
    (the current one, and during a rotation's grace period the previous one as well:
    ``v1,<sig> v1,<sig>``, of which a receiver needs to check just one)."""
    from standardwebhooks.webhooks import Webhook

    sent_at = datetime.fromtimestamp(timestamp, tz=UTC)
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(Webhook(secret).sign(message_id, sent_at, body)
                                      for secret in secrets),
    }
