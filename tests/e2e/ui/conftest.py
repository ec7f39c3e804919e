"""The Webhooks tab in a real Chromium (Debian's, driven by Playwright), against the local
stack that `make run` starts (the e2e session's). One browser for the session, a fresh
context (storage, language) per test. Every test fails on a console error or an uncaught
exception in the page; screenshots of the views go to build/ui/."""
from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page, Playwright, expect, sync_playwright

from tests.conftest import ROOT
from tests.e2e.conftest import ApiUser, RunningStack

SCREENSHOTS = ROOT / "build" / "ui"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
# What Chromium logs for every answer that is not a 2xx; a test that provokes a refusal
# names the statuses it expects.
REFUSED = re.compile(r"^Failed to load resource: the server responded with a status of (\d+)")

expect.set_options(timeout=15_000)


def chromium() -> str:
    path = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not os.path.exists(path):
        raise AssertionError("the UI tests need Debian's chromium: `make test` installs it "
                             "(apt-get install chromium), or set CHROMIUM")
    return path


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as running:
        yield running


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    launched = playwright.chromium.launch(executable_path=chromium(), args=CHROMIUM_ARGS)
    yield launched
    launched.close()


@dataclass
class Tab:
    """A page of the Webhooks tab and what it said on the console."""

    page: Page
    stack: RunningStack
    errors: list[str] = field(default_factory=list)
    refusals: list[int] = field(default_factory=list)
    #: the statuses of refusals this test provokes (others fail it)
    expected_refusals: set[int] = field(default_factory=set)
    dialogs: list[str] = field(default_factory=list)
    #: the answer to the next confirm() dialogs
    confirm: bool = True

    def open(self) -> Tab:
        response = self.page.goto(self.stack.ready["ui"])
        assert response is not None and response.ok
        return self

    def sign_in(self, user: ApiUser) -> Tab:
        self.open()
        self.page.get_by_label("E-mail").fill(user.api_user)
        self.page.get_by_label("API key").fill(user.api_key)
        self.page.get_by_role("button", name="Sign in").click()
        expect(self.page.get_by_role("heading", name="Webhooks", exact=True)).to_be_visible()
        return self

    def card(self, token: str) -> Any:
        """The list item of the webhook with this token."""
        return self.page.get_by_role("listitem").filter(
            has=self.page.get_by_text(token, exact=True))

    def check(self, view: str) -> None:
        check(self.page, view)


def check(page: Page, view: str) -> None:
    """Screenshot the page to build/ui/ and fail on any serious or critical axe-core
    finding."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{view}.png"), full_page=True)
    results = Axe().run(page)
    serious = [v for v in results.response["violations"]
               if v["impact"] in ("serious", "critical")]
    assert not serious, f"axe-core on {view}: " + "; ".join(
        f"{v['id']}: {v['help']} ({[n['target'] for n in v['nodes']]})" for v in serious)


def tab_in(browser: Browser, stack: RunningStack, locale: str = "en-US") -> Iterator[Tab]:
    context = browser.new_context(locale=locale, viewport={"width": 1100, "height": 800})
    tab = Tab(context.new_page(), stack)

    def on_console(message: Any) -> None:
        if message.type != "error":
            return
        refused = REFUSED.match(message.text)
        if refused:
            tab.refusals.append(int(refused.group(1)))
        else:
            tab.errors.append(message.text)

    def on_dialog(dialog: Any) -> None:
        tab.dialogs.append(dialog.message)
        if dialog.type == "confirm" and tab.confirm:
            dialog.accept()
        else:
            dialog.dismiss()

    tab.page.on("console", on_console)
    tab.page.on("pageerror", lambda error: tab.errors.append(f"uncaught: {error}"))
    tab.page.on("dialog", on_dialog)
    yield tab
    context.close()
    assert tab.errors == [], "console errors in the page"
    assert set(tab.refusals) <= tab.expected_refusals, f"unexpected refusals {tab.refusals}"


@pytest.fixture
def tab(browser: Browser, stack: RunningStack) -> Iterator[Tab]:
    """The Webhooks tab in English."""
    yield from tab_in(browser, stack)
