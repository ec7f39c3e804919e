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


class Trickler:
    """A receiver that answers one byte every ``pause`` seconds, for ever: in its status
    line and headers (``phase="head"``) or in its body."""

    def __init__(self, phase: str, pause: float = 0.2) -> None:
        import socket
        import threading

        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = self._server.getsockname()[1]
        self._phase, self._pause = phase, pause
        self._stop = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        import contextlib
        import time

        with contextlib.suppress(OSError):
            conn, _ = self._server.accept()
            with conn:
                conn.recv(65536)
                if self._phase == "body":
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n")
                while not self._stop.is_set():
                    conn.sendall(b"H" if self._phase == "head" else b"x")
                    time.sleep(self._pause)

    def stop(self) -> None:
        self._stop.set()
        self._server.close()


@pytest.mark.parametrize("phase", ["head", "body"])
def test_a_trickling_receiver_is_cut_at_the_deadline(phase: str) -> None:
    import time

    trickler = Trickler(phase)
    try:
        vetted = urlguard.check(f"http://127.0.0.1:{trickler.port}/", allow_http=True,
                                allowed=LOOPBACK)
        started = time.monotonic()
        outcome = outbound.post(vetted, b"{}", {}, connect_timeout=1, total_timeout=1.0)
        took = time.monotonic() - started
    finally:
        trickler.stop()
    assert outcome.status_code is None and outcome.failure_reason == "timeout", outcome
    assert 0.9 <= took < 1.6, took  # each byte came within the read timeout: only the
    assert 900 <= outcome.duration_ms < 1600  # wall-clock deadline ends it


def test_a_host_name_that_does_not_resolve_in_time_is_a_timeout() -> None:
    import time

    def hanging_resolver(host: str, port: int) -> list[str]:
        time.sleep(3)
        return ["127.0.0.1"]

    webhook = subscriptions.create(1, "team.created", "http://slow-dns.example.test/", "t",
                                   limit=3, on_limit=lambda: AssertionError())
    config = replace(settings.get(), allowed_networks=LOOPBACK, validation_timeout_seconds=0.5)
    started = time.monotonic()
    with pytest.raises(validation.EndpointUnreachable) as caught:
        validation.request(webhook, config, resolver=hanging_resolver)
    assert time.monotonic() - started < 1.5
    assert caught.value.details["reason"] == "timeout"


def test_the_next_vetted_address_is_tried_within_the_same_deadline(
        receiver: Receiver) -> None:
    port = int(receiver.url.rsplit(":", 1)[1])
    # nothing listens on 127.0.0.2: refused, then the second address answers
    vetted = urlguard.check(f"http://two.example.test:{port}/", allow_http=True,
                            allowed=LOOPBACK,
                            resolver=lambda host, port: ["127.0.0.2", "127.0.0.1"])
    assert vetted.addresses == ("127.0.0.2", "127.0.0.1")
    outcome = outbound.post(vetted, b"{}", {}, connect_timeout=1, total_timeout=2)
    assert outcome.status_code == 200
    assert receiver.wait_for(1)[0].headers["Host"] == f"two.example.test:{port}"
