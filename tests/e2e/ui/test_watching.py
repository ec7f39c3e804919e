"""Watching webhooks in the browser: the log with its chart and redelivery, test events,
and the signing secret."""
from __future__ import annotations

import json
import re
import time

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import ApiUser, RunningStack, activate, new_company
from tests.e2e.ui.conftest import Tab
from tests.receivers import Receiver

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def user(stack: RunningStack) -> ApiUser:
    return new_company(stack, "Watching GmbH", "enterprise")


def test_a_change_is_logged_as_delivered_and_can_be_redelivered(
        tab: Tab, user: ApiUser, receiver: Receiver) -> None:
    activate(user, receiver, "customer.created", token="log-me")
    before = len(receiver.requests)
    customer = user.call("POST", "/v3/customers", {"name": "Acme"}).json()["data"]
    (first,) = receiver.wait_for(before + 1)[before:]
    page = tab.sign_in(user).page
    tab.card("log-me").get_by_role("link", name="Log").click()
    expect(page.get_by_role("heading", name="Log: Customer created")).to_be_visible()
    row = page.get_by_role("row").filter(has_text=f"customer {customer['id']}")
    expect(row.get_by_role("cell").nth(3)).to_have_text("Delivered")
    expect(page.get_by_role("img", name="In the last 24 hours: 1 delivered, 0 failed.")
           ).to_be_visible()

    expect(row.locator("summary")).to_have_text(re.compile(r"^1 . attempts of Customer created"))
    row.locator("summary").click()  # the attempts
    attempt = row.get_by_role("listitem").first
    expect(attempt).to_contain_text("Attempt 1 · automatic")
    expect(attempt.get_by_role("definition").nth(1)).to_have_text("200")
    expect(attempt.locator("pre")).to_have_text("ok")  # the start of the answer
    tab.check("log")

    row.get_by_role("button", name="Redeliver").click()
    second = receiver.wait_for(before + 2)[-1]
    assert second.headers["webhook-id"] == first.headers["webhook-id"]
    row = page.get_by_role("row").filter(has_text=f"customer {customer['id']}")
    expect(row.locator("summary")).to_have_text(re.compile(r"^2 . attempts of Customer created"))
    row.locator("summary").click()
    # manual attempts are numbered apart from the automatic schedule
    expect(row.get_by_role("listitem").nth(1)).to_contain_text("Attempt 1 · manual")


def test_a_test_event_reaches_the_endpoint_and_is_logged_as_a_test(
        tab: Tab, user: ApiUser, receiver: Receiver) -> None:
    activate(user, receiver, "team.updated", token="test-me")
    before = len(receiver.requests)
    page = tab.sign_in(user).page
    card = tab.card("test-me")
    card.get_by_role("button", name="Send test event").click()
    expect(card.get_by_text("Test event delivered: your endpoint answered 200.")).to_be_visible()
    (sent,) = receiver.wait_for(before + 1)[before:]
    body = json.loads(sent.body)
    assert (body["event_name"], body["payload"], body["token"]) == \
        ("team.updated", {"team": {"id": 0}}, "test-me")

    card.get_by_role("link", name="Log").click()
    row = page.get_by_role("row").filter(has_text="team 0")
    expect(row.get_by_text("Test", exact=True)).to_be_visible()
    expect(row.get_by_text("Delivered", exact=True)).to_be_visible()


def test_reveal_copy_and_rotate_the_signing_secret(tab: Tab, user: ApiUser,
                                                   receiver: Receiver) -> None:
    webhook = activate(user, receiver, "service.updated", token="sign-me")
    old = webhook["signing_secret"]
    tab.page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page = tab.sign_in(user).page
    tab.card("sign-me").get_by_role("link", name="Signing secret").click()
    expect(page.get_by_role("heading", name="Signing secret: Service updated")).to_be_visible()
    shown = page.locator("#signing-secret")
    expect(shown).to_have_text("hidden")
    page.get_by_role("button", name="Reveal").click()
    expect(shown).to_have_text(old)
    page.get_by_role("button", name="Copy").click()
    expect(page.get_by_text("Copied to the clipboard.")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == old
    expect(page.get_by_text("webhook-signature").first).to_be_visible()  # how to verify
    tab.check("secret")

    page.get_by_role("button", name="Rotate").click()
    assert "24 hours" in tab.dialogs[-1]
    expect(page.get_by_text("A new secret signs from now on.")).to_be_visible()
    current = user.call("GET", f"/v2/webhooks/{webhook['id']}/secret").json()["data"]
    assert current["secret"] != old and current["previous_secret"] == old
    expect(shown).to_have_text(current["secret"])
    expect(page.get_by_text(re.compile("^Previous secret, still signing until"))).to_be_visible()
    expect(page.get_by_text(old, exact=True)).to_be_visible()


def test_each_status_in_words_and_a_failing_endpoint_at_a_glance(
        tab: Tab, stack: RunningStack, receiver: Receiver) -> None:
    user = new_company(stack, "Statuses GmbH", "enterprise")
    activate(user, receiver, "entry.created", token="on")
    user.call("POST", "/v2/webhooks", {"event_name": "entry.deleted", "url": receiver.url,
                                       "token": "waiting"})
    gone = Receiver(status=410).start()
    try:
        webhook = activate(user, gone, "customer.created", token="gone")
        customer = user.call("POST", "/v3/customers", {"name": "Acme"}).json()["data"]
        gone.wait_for(2)  # the validation request, then the notification
    finally:
        gone.stop()
    path = f"/v2/webhooks/{webhook['id']}"
    deadline = time.monotonic() + 10
    while user.call("GET", path).json()["data"]["status"] != "disabled":
        assert time.monotonic() < deadline, "the webhook was not disabled"
        time.sleep(0.1)

    page = tab.sign_in(user).page
    expect(tab.card("on").get_by_text("Active", exact=True)).to_be_visible()
    expect(tab.card("waiting").get_by_text("Pending validation")).to_be_visible()
    card = tab.card("gone")
    expect(card.get_by_text("Disabled: the endpoint answered 410 Gone")).to_be_visible()
    expect(card.get_by_role("definition").nth(5)).to_have_text("1")  # failures in a row
    expect(card.get_by_role("button", name="Validate webhook")).to_be_visible()
    expect(page.get_by_text("2 of 3 Time entry webhooks")).to_be_visible()
    expect(page.get_by_text("1 of 3 Customer webhooks")).to_be_visible()
    tab.check("list")

    card.get_by_role("link", name="Log").click()
    expect(page.get_by_role("img", name="In the last 24 hours: 0 delivered, 1 failed.")
           ).to_be_visible()
    row = page.get_by_role("row").filter(has_text=f"customer {customer['id']}")
    expect(row.get_by_text("Failed", exact=True)).to_be_visible()
    row.locator("summary").click()
    expect(row.get_by_role("listitem").first.get_by_role("definition").nth(1)).to_have_text("410")
