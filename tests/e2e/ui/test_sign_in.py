"""Signing in and out, the keyboard, the two languages, and a refusal for too many
requests."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, expect

from tests.e2e.conftest import ApiUser, RunningStack, admin_cli, new_company
from tests.e2e.ui.conftest import Tab, tab_in

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def user(stack: RunningStack) -> ApiUser:
    return new_company(stack, "Sign-in GmbH", "enterprise")


def test_sign_in_keeps_the_key_in_the_tab_only_and_sign_out_forgets_it(
        tab: Tab, user: ApiUser) -> None:
    tab.expected_refusals = {401}
    page = tab.open().page
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    tab.check("sign-in")
    page.get_by_label("E-mail").fill(user.api_user)
    page.get_by_label("API key").fill("0" * 32)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_have_text("Wrong e-mail or API key.")

    page.get_by_label("API key").fill(user.api_key)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Webhooks", exact=True)).to_be_visible()
    expect(page.get_by_text(f"Signed in as {user.api_user}")).to_be_visible()
    assert user.api_key not in page.url
    assert user.api_key in page.evaluate("JSON.stringify(sessionStorage)")
    assert user.api_key not in page.evaluate("JSON.stringify(localStorage) + document.cookie")

    page.reload()  # the session outlives a reload of the tab
    expect(page.get_by_role("heading", name="Webhooks", exact=True)).to_be_visible()
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    assert user.api_key not in page.evaluate("JSON.stringify(sessionStorage)")


def test_a_revoked_key_ends_the_session(tab: Tab, stack: RunningStack) -> None:
    tab.expected_refusals = {401}
    user = new_company(stack, "Revoked GmbH", "enterprise")
    page = tab.sign_in(user).page
    (key,) = admin_cli(stack, "list-keys", "--email", user.api_user)
    admin_cli(stack, "revoke-key", "--email", user.api_user, "--key-id", key["key_id"])
    page.get_by_role("button", name="New webhook").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(page.get_by_role("alert")).to_have_text(
        "Your key was not accepted any more. Please sign in again.")
    assert user.api_key not in page.evaluate("JSON.stringify(sessionStorage)")


def test_the_keyboard_alone_signs_in_and_opens_a_form(tab: Tab, user: ApiUser) -> None:
    page = tab.open().page
    expect(page.get_by_label("E-mail")).to_be_visible()
    page.keyboard.press("Tab")  # the language switch
    page.keyboard.press("Tab")
    expect(page.get_by_label("E-mail")).to_be_focused()
    page.keyboard.type(user.api_user)
    page.keyboard.press("Tab")
    page.keyboard.type(user.api_key)
    page.keyboard.press("Enter")
    heading = page.get_by_role("heading", name="Webhooks", exact=True)
    expect(heading).to_be_focused()  # a new view takes the focus to its heading
    new = page.get_by_role("button", name="New webhook")
    for _ in range(10):
        if new.evaluate("element => element === document.activeElement"):
            break
        page.keyboard.press("Tab")
    expect(new).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="New webhook")).to_be_focused()


def test_german_where_the_browser_prefers_it_and_a_switch(browser: Browser, stack: RunningStack,
                                                        user: ApiUser) -> None:
    user.call("POST", "/v2/webhooks", {"event_name": "customer.created",
                                       "url": stack.ready["inbox"] + "de", "token": "de-1"})
    for tab in tab_in(browser, stack, locale="de-DE"):
        page = tab.open().page
        expect(page.get_by_role("heading", name="Anmelden")).to_be_visible()
        page.get_by_label("E-Mail").fill(user.api_user)
        page.get_by_label("API-Schlüssel").fill(user.api_key)
        page.get_by_role("button", name="Anmelden").click()
        expect(page.get_by_role("button", name="Neuer Webhook")).to_be_visible()
        card = tab.card("de-1")
        expect(card.get_by_role("heading")).to_have_text("Kunde erstellt customer.created")
        expect(card.get_by_text("Validierung ausstehend")).to_be_visible()
        for name in ("Webhook validieren", "Löschen"):
            expect(card.get_by_role("button", name=name)).to_be_visible()
        for name in ("Bearbeiten", "Protokoll"):
            expect(card.get_by_role("link", name=name)).to_be_visible()
        expect(page.get_by_text("Kunde: 1 von 3 Webhooks")).to_be_visible()
        assert page.evaluate("document.documentElement.lang") == "de"
        tab.check("list-de")

        page.get_by_role("button", name="Neuer Webhook").click()
        for label in ("Event", "Token", "URL"):
            expect(page.get_by_label(label, exact=True)).to_be_visible()
        expect(page.get_by_role("button", name="Speichern")).to_be_visible()
        page.get_by_label("Sprache").select_option("en")
        expect(page.get_by_role("button", name="Save")).to_be_visible()
        expect(page.get_by_label("Event", exact=True).locator("option", has_text="Customer created")
               ).to_have_count(1)
        page.reload()  # the choice is remembered
        expect(page.get_by_role("heading", name="New webhook")).to_be_visible()


def test_too_many_requests_says_when_to_try_again(tab: Tab, user: ApiUser) -> None:
    tab.expected_refusals = {429}
    tab.sign_in(user)
    page = tab.page

    def refuse(route: object) -> None:
        route.fulfill(status=429, headers={"Retry-After": "42"},  # type: ignore[attr-defined]
                      json={"errors": [{"type": "TooManyRequests", "message": "too many",
                                        "path": None, "details": {"retry_after": 42}}]})

    page.route(re.compile(r".*/v2/webhooks\?.*"), refuse)
    page.reload()
    expect(page.get_by_role("alert")).to_have_text(
        "Too many requests. Please wait 42 seconds and try again.")
