"""Setting webhooks up in the browser: create from the dropdown, the plan's rules, validate
with the secret read in the inbox, edit, delete, and hostile values shown as text."""
from __future__ import annotations

import re

import pytest
import requests
from playwright.sync_api import expect

from tests.e2e.conftest import ApiUser, RunningStack, activate, new_company
from tests.e2e.ui.conftest import Tab, check
from tests.receivers import Receiver

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def user(stack: RunningStack) -> ApiUser:
    return new_company(stack, "Setup GmbH", "enterprise")


def test_create_from_the_dropdown_with_refusals_next_to_their_field(
        tab: Tab, stack: RunningStack) -> None:
    tab.expected_refusals = {409, 422}
    user = new_company(stack, "Create GmbH", "enterprise")
    page = tab.sign_in(user).page
    expect(page.get_by_text("You have no webhooks yet.")).to_be_visible()
    page.get_by_role("button", name="New webhook").click()
    expect(page.get_by_role("heading", name="New webhook")).to_be_visible()
    event = page.get_by_label("Event", exact=True)
    customer = event.locator("optgroup[label='Customer'] option")
    expect(customer).to_have_text(["Customer created", "Customer updated", "Customer deleted"])
    assert customer.evaluate_all("options => options.map(o => o.value)") == \
        ["customer.created", "customer.updated", "customer.deleted"]
    tab.check("form-new")

    event.select_option(label="Customer created")
    page.get_by_label("Token").fill("crm-sync")
    url = page.get_by_label("URL", exact=True)
    url.fill("http://10.0.0.7/hook")
    page.get_by_role("button", name="Save").click()
    expect(url).to_have_attribute("aria-invalid", "true")
    expect(url).to_have_accessible_description(re.compile("private address"))

    url.fill(stack.ready["inbox"] + "crm")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Saved.", exact=True)).to_be_visible()
    card = tab.card("crm-sync")
    expect(card.get_by_text("Pending validation")).to_be_visible()
    expect(card.get_by_text(stack.ready["inbox"] + "crm", exact=True)).to_be_visible()
    expect(card.get_by_text("never")).to_have_count(2)  # last delivery, last success
    expect(page.get_by_text("1 of 3 Customer webhooks")).to_be_visible()

    page.get_by_role("button", name="New webhook").click()
    page.get_by_label("Event", exact=True).select_option("customer.deleted")
    page.get_by_label("Token").fill("crm-sync")
    page.get_by_label("URL", exact=True).fill(stack.ready["inbox"] + "crm2")
    page.get_by_role("button", name="Save").click()
    token = page.get_by_label("Token")
    expect(token).to_have_accessible_description(re.compile(
        "Another of your webhooks already uses this token"))
    expect(token).to_be_focused()
    assert [w["token"] for w in user.call("GET", "/v2/webhooks").json()["data"]] == ["crm-sync"]


def test_events_outside_the_plan_and_full_types_cannot_be_chosen(
        tab: Tab, stack: RunningStack) -> None:
    basic = new_company(stack, "Basic GmbH", "basic")
    for n in range(2):
        basic.call("POST", "/v2/webhooks", {"event_name": "team.created",
                                            "url": stack.ready["inbox"] + f"t{n}",
                                            "token": f"team-{n}"})
    page = tab.sign_in(basic).page
    expect(page.get_by_text("2 of 2 Team webhooks")).to_be_visible()
    page.get_by_role("button", name="New webhook").click()
    event = page.get_by_label("Event", exact=True)
    team = event.locator("option[value='team.updated']")
    expect(team).to_be_disabled()
    expect(team).to_have_text("Team updated (limit reached: 2 of 2)")
    budget = event.locator("option[value='project.budget_notification']")
    expect(budget).to_be_disabled()
    expect(budget).to_have_text(re.compile(r"\(not in your plan\)$"))
    expect(event.locator("option[value='project.created']")).to_be_enabled()


def test_validate_with_the_secret_the_inbox_got(tab: Tab, stack: RunningStack,
                                                user: ApiUser) -> None:
    tab.expected_refusals = {422}
    path = "validate-me"
    user.call("POST", "/v2/webhooks", {"event_name": "service.created",
                                       "url": stack.ready["inbox"] + path, "token": "svc"})
    user.call("POST", "/v2/webhooks", {"event_name": "service.deleted",
                                       "url": "http://127.0.0.1:9/nobody", "token": "nobody"})
    page = tab.sign_in(user).page
    tab.card("nobody").get_by_role("button", name="Validate webhook").click()
    expect(tab.card("nobody").get_by_role("alert")).to_have_text(
        re.compile(r"^Your endpoint could not be reached: .*refused"))
    card = tab.card("svc")
    card.get_by_role("button", name="Validate webhook").click()
    expect(card.get_by_text("Your endpoint answered 200")).to_be_visible()
    secret_field = card.get_by_label("Secret")
    expect(secret_field).to_be_focused()

    inbox = page.context.new_page()  # a person reads the secret in the inbox
    inbox.goto(stack.ready["inbox"])
    request = inbox.get_by_role("article").filter(has_text=f"POST /{path}?secret=").first
    secret = re.search(r'"secret": "([0-9a-f-]{36})"', request.inner_text()).group(1)
    check(inbox, "inbox")
    inbox.close()
    tab.check("list-validating")

    secret_field.fill("00000000-0000-4000-8000-000000000000")
    card.get_by_role("button", name="Confirm").click()
    expect(secret_field).to_have_accessible_description("That is not the secret. 4 tries left.")
    secret_field.fill(secret)
    card.get_by_role("button", name="Confirm").click()
    expect(tab.card("svc").get_by_text("Active", exact=True)).to_be_visible()
    expect(page.get_by_text("Active: the webhook will receive its events")).to_be_visible()
    assert user.call("GET", "/v2/webhooks?filter[status]=active").json()["data"][0]["token"] \
        == "svc"


def test_edit_says_a_new_url_needs_a_new_validation(tab: Tab, stack: RunningStack,
                                                    user: ApiUser, receiver: Receiver) -> None:
    webhook = activate(user, receiver, "project.created", token="proj")
    page = tab.sign_in(user).page
    tab.card("proj").get_by_role("link", name="Edit").click()
    expect(page.get_by_role("heading", name="Edit webhook")).to_be_visible()
    expect(page.get_by_text("A new URL needs a new validation").first).to_be_visible()
    expect(page.get_by_label("Event", exact=True)).to_have_value("project.created")
    tab.check("form-edit")
    page.get_by_label("Token").fill("proj-2")
    page.get_by_label("Event", exact=True).select_option("project.updated")
    page.get_by_role("button", name="Save").click()
    card = tab.card("proj-2")
    expect(card.get_by_text("Active", exact=True)).to_be_visible()
    expect(card.get_by_role("heading")).to_have_text("Project updated project.updated")

    card.get_by_role("link", name="Edit").click()
    page.get_by_label("URL", exact=True).fill(stack.ready["inbox"] + "moved")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Saved. The new URL needs a new validation.")).to_be_visible()
    expect(tab.card("proj-2").get_by_text("Pending validation")).to_be_visible()
    stored = user.call("GET", f"/v2/webhooks/{webhook['id']}").json()["data"]
    assert (stored["status"], stored["url"]) == ("pending_validation",
                                                 stack.ready["inbox"] + "moved")


def test_delete_only_after_a_confirmation(tab: Tab, stack: RunningStack,
                                          user: ApiUser) -> None:
    created = user.call("POST", "/v2/webhooks", {"event_name": "absence.created",
                                                 "url": stack.ready["inbox"] + "gone",
                                                 "token": "bye"}).json()["data"]
    page = tab.sign_in(user).page
    tab.confirm = False
    tab.card("bye").get_by_role("button", name="Delete").click()
    assert tab.dialogs == [f"Delete the webhook for “Absence created” to "
                           f"{stack.ready['inbox']}gone? This cannot be undone."]
    expect(tab.card("bye")).to_have_count(1)
    tab.confirm = True
    tab.card("bye").get_by_role("button", name="Delete").click()
    expect(page.get_by_text("The webhook was deleted.")).to_be_visible()
    expect(tab.card("bye")).to_have_count(0)
    assert user.call("GET", f"/v2/webhooks/{created['id']}").status_code == 404


def test_typed_values_are_shown_as_text_and_never_run(tab: Tab, stack: RunningStack,
                                                      user: ApiUser) -> None:
    hostile = "<img src=x onerror=alert(1)>"
    url = stack.ready["inbox"] + "x?q=<script>alert(2)</script>"
    page = tab.sign_in(user).page
    page.get_by_role("button", name="New webhook").click()
    page.get_by_label("Event", exact=True).select_option("user.created")
    page.get_by_label("Token").fill(hostile)
    page.get_by_label("URL", exact=True).fill(url)
    page.get_by_role("button", name="Save").click()
    card = tab.card(hostile)
    expect(card).to_have_count(1)
    expect(card.get_by_text(url, exact=True)).to_be_visible()
    assert page.locator("main img, main script").count() == 0
    page.reload()
    expect(tab.card(hostile)).to_have_count(1)
    page.wait_for_timeout(300)  # time for an injected handler to fire, were there one
    assert tab.dialogs == []
    # and the inbox shows what it got as text too
    requests.post(url, data=hostile.encode(), timeout=5)
    inbox = page.context.new_page()
    inbox.goto(stack.ready["inbox"])
    expect(inbox.get_by_text(hostile).first).to_be_visible()
    assert inbox.locator("img, script").count() == 0
    inbox.close()
