"""The local stack's request inbox: keeps any request, shows it escaped, newest first."""
from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from local.inbox import Inbox


@pytest.fixture
def inbox() -> Iterator[Inbox]:
    running = Inbox(keep=3).start()
    yield running
    running.stop()


def test_any_request_is_kept_and_shown_newest_first(inbox: Inbox) -> None:
    answer = requests.post(inbox.url + "clockodo?secret=abc-123", json={"secret": "abc-123"},
                           timeout=5)
    assert (answer.status_code, answer.json()) == (200, {"received": True})
    requests.put(inbox.url + "second", data=b"plain", timeout=5)
    requests.get(inbox.url + "third?x=1", timeout=5)

    page = requests.get(inbox.url, timeout=5)
    assert page.headers["Content-Type"] == "text/html; charset=utf-8"
    assert page.headers["Content-Security-Policy"].startswith("default-src 'none'")
    text = page.text
    assert text.index("GET /third?x=1") < text.index("PUT /second") \
        < text.index("POST /clockodo?secret=abc-123")
    assert "&quot;secret&quot;: &quot;abc-123&quot;" in text  # the JSON body, indented
    assert "Content-Type: application/json" in text


def test_values_are_escaped_and_only_the_last_requests_kept(inbox: Inbox) -> None:
    for n in range(4):
        requests.post(inbox.url + f"r{n}", data=f"<script>alert({n})</script>", timeout=5)
    page = requests.get(inbox.url, timeout=5).text
    assert "<script>" not in page
    assert "&lt;script&gt;alert(3)&lt;/script&gt;" in page
    assert "POST /r0" not in page  # kept: the last three
    assert [r.path for r in inbox.requests] == ["/r3", "/r2", "/r1"]


def test_a_large_body_is_cut(inbox: Inbox) -> None:
    requests.post(inbox.url + "big", data=b"x" * 100_000, timeout=5)
    assert len(inbox.requests[0].body) == 64 * 1024
