"""Signatures that Standard Webhooks verifiers accept, Clockodo's exact body, stable ids."""
from __future__ import annotations

import base64
import json
import time

import pytest
from standardwebhooks.webhooks import Webhook as Verifier
from standardwebhooks.webhooks import WebhookVerificationError

from chalicelib.delivery import fanout, queue, signing
from chalicelib.delivery import worker as delivery
from chalicelib.events import Change
from chalicelib.subscriptions import Webhook


def test_secrets_are_whsec_and_32_random_bytes() -> None:
    first, second = signing.new_secret(), signing.new_secret()
    assert first.startswith("whsec_") and first != second
    assert len(base64.b64decode(first.removeprefix("whsec_"))) == 32


def test_the_reference_verifier_accepts_our_signature() -> None:
    secret = signing.new_secret()
    body = '{"a": 1}'
    headers = signing.headers([secret], "msg_1", int(time.time()), body)
    assert set(headers) == {"webhook-id", "webhook-timestamp", "webhook-signature"}
    assert headers["webhook-signature"].startswith("v1,")
    assert Verifier(secret).verify(body, headers) == {"a": 1}


def test_a_wrong_secret_or_a_changed_body_fails_verification() -> None:
    secret = signing.new_secret()
    headers = signing.headers([secret], "msg_1", int(time.time()), '{"a": 1}')
    with pytest.raises(WebhookVerificationError):
        Verifier(signing.new_secret()).verify('{"a": 1}', headers)
    with pytest.raises(WebhookVerificationError):
        Verifier(secret).verify('{"a": 2}', headers)


def test_during_a_rotation_old_and_new_secrets_both_sign() -> None:
    old, new = signing.new_secret(), signing.new_secret()
    headers = signing.headers([new, old], "msg_1", int(time.time()), "{}")
    assert headers["webhook-signature"].count("v1,") == 2
    assert Verifier(old).verify("{}", headers) == {}
    assert Verifier(new).verify("{}", headers) == {}
    with pytest.raises(WebhookVerificationError):
        Verifier(signing.new_secret()).verify("{}", headers)


def test_the_previous_secret_signs_only_until_its_grace_period_ends() -> None:
    webhook = Webhook(1, 2, "team.created", "https://x.example/", "t", "active", "t", "t",
                      signing_secret="whsec_new", previous_signing_secret="whsec_old",
                      previous_secret_expires_at=1000)
    assert webhook.signing_secrets(999) == ["whsec_new", "whsec_old"]
    assert webhook.signing_secrets(1000) == ["whsec_new"]


def change(**overrides: object) -> Change:
    values: dict = {"record_id": "rec-1", "sequence_number": "1", "company_id": 1337,
                    "resource_type": "team", "resource_id": 9001, "event_name": "team.updated",
                    "occurred_at": "1986-05-10T17:02:00Z", "occurred_ms": 516128520000}
    values.update(overrides)
    return Change(**values)


def test_delivery_ids_are_stable_per_record_event_and_webhook() -> None:
    first = fanout.delivery_id(change(), 42)
    assert first == fanout.delivery_id(change(), 42)
    assert first != fanout.delivery_id(change(), 43)
    assert first != fanout.delivery_id(change(record_id="rec-2"), 42)
    assert first != fanout.delivery_id(change(event_name="team.created"), 42)
    assert len(first) == 36 and first.startswith("msg_")
    later = fanout.delivery_id(change(occurred_ms=516128520001, record_id="zzz"), 42)
    assert later > first  # ids sort by the time of the change


def test_the_notification_is_exactly_clockodos() -> None:
    message = fanout.message(change(), 42)
    webhook = Webhook(1337, 42, "team.updated", "https://x.example/", "My_Sup3r_T0k3n",
                      "active", "t", "t")
    body = json.loads(delivery.notification_body(message, webhook))
    assert body == {"subscription_id": 42, "company_id": 1337,
                    "occurred_at": "1986-05-10T17:02:00Z", "payload": {"team": {"id": 9001}},
                    "event_name": "team.updated", "token": "My_Sup3r_T0k3n"}
    assert list(body) == ["subscription_id", "company_id", "occurred_at", "payload",
                          "event_name", "token"]


def test_the_queued_message_holds_no_token_url_or_secret() -> None:
    message = fanout.message(change(), 42)
    assert set(message) <= set(queue.REQUIRED) | set(queue.OPTIONAL)
    assert message["trigger"] == "automatic"


def test_messages_are_versioned_and_unknown_fields_are_ignored_not_dropped() -> None:
    message = fanout.message(change(), 42)
    body = json.loads(queue.encode(message))
    assert body["v"] == queue.VERSION
    # a newer sender added a field this worker does not know: the message is still read
    parsed = queue.parse(json.dumps({**body, "v": 3, "priority": "high"}))
    assert parsed is not None and "priority" not in parsed
    assert {k: parsed[k] for k in message} == message
    # an older one (version 1) had no attempt or due time: the first attempt, due now
    old = queue.parse(json.dumps({k: v for k, v in message.items() if k in queue.REQUIRED}))
    assert old is not None and (old["attempt"], old["due_at"], old["v"]) == (1, 0, 1)
    # only a message without what every version has cannot be read
    assert queue.parse(json.dumps({**body, "webhook_id": "42"})) is None
    assert queue.parse("not json") is None
