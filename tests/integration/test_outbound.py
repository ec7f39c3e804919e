"""Requests the service sends: pinned to the vetted address, vetted again at send time."""
from __future__ import annotations

import ipaddress
from dataclasses import replace

import pytest

from chalicelib import settings, subscriptions, validation
from chalicelib.delivery import outbound, urlguard
from chalicelib.delivery.urlguard import UrlNotAllowed
from tests.receivers import Receiver

LOOPBACK = (ipaddress.ip_network("127.0.0.0/8"),)


def resolves_to(address: str) -> urlguard.Resolver:
    return lambda host, port: [address]


def test_the_request_goes_to_the_vetted_address_with_the_original_host(
        receiver: Receiver) -> None:
    port = int(receiver.url.rsplit(":", 1)[1])
    # .test never resolves in real DNS: the request can only arrive if the sender connects
    # to the address vetted here instead of resolving the name again.
    vetted = urlguard.check(f"http://hooks.example.test:{port}/in?x=1", allow_http=True,
                            allowed=LOOPBACK, resolver=resolves_to("127.0.0.1"))
    outcome = outbound.post(vetted, b'{"a": 1}', {"X-Extra": "1"}, connect_timeout=2,
                            total_timeout=5)
    assert outcome.succeeded and outcome.status_code == 200
    (request,) = receiver.wait_for(1)
    assert request.headers["Host"] == f"hooks.example.test:{port}"
    assert request.path == "/in?x=1"
    assert request.headers["X-Extra"] == "1"
    assert request.headers["User-Agent"].startswith("Clockodo-Webhooks/")
    assert request.body == b'{"a": 1}'


def test_validation_vets_the_url_again_when_it_sends(receiver: Receiver) -> None:
    port = int(receiver.url.rsplit(":", 1)[1])
    webhook = subscriptions.create(1, "team.created", f"http://rebind.example.test:{port}/",
                                   "t", limit=3, on_limit=lambda: AssertionError())
    config = replace(settings.get(), allowed_networks=LOOPBACK)
    with pytest.raises(UrlNotAllowed) as caught:  # the name now points at a private address
        validation.request(webhook, config, resolver=resolves_to("10.0.0.7"))
    assert caught.value.reason == "private"
    assert receiver.requests == []
    assert subscriptions.get(1, webhook.webhook_id).validation is None

    stored, outcome = validation.request(webhook, config, resolver=resolves_to("127.0.0.1"))
    assert outcome.status_code == 200
    assert stored.validation is not None
    assert receiver.wait_for(1)[0].headers["Host"] == f"rebind.example.test:{port}"


def test_at_most_a_few_kb_of_the_answer_are_read() -> None:
    big = Receiver(body=b"x" * 1_000_000).start()
    try:
        vetted = urlguard.check(big.url, allow_http=True, allowed=LOOPBACK)
        outcome = outbound.post(vetted, b"{}", {}, connect_timeout=2, total_timeout=5)
        assert outcome.status_code == 200
        assert len(outcome.body) == outbound.MAX_RESPONSE_BYTES
    finally:
        big.stop()


def test_failures_are_described_without_the_url() -> None:
    closed = Receiver().start()
    url = closed.url + "/hook?secret=do-not-leak"
    closed.stop()
    vetted = urlguard.check(url, allow_http=True, allowed=LOOPBACK)
    outcome = outbound.post(vetted, b"{}", {}, connect_timeout=2, total_timeout=5)
    assert outcome.status_code is None
    assert outcome.error == "connection failed: connection refused"
