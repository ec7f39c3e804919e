"""The Webhooks tab's files themselves: no inline script, every import resolves, no script
ever turns a string into markup or code, and both languages have every string."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from chalicelib import webui

UI = Path(webui.FOLDER)
SCRIPTS = sorted(UI.glob("*.js"))


def test_the_page_loads_only_files_that_exist_and_no_inline_script() -> None:
    page = (UI / "index.html").read_text(encoding="utf-8")
    assert re.findall(r"<script\b[^>]*>", page) == ['<script type="module" src="ui/main.js">']
    assert not re.search(r"\son\w+\s*=", page)  # no inline event handlers
    for reference in re.findall(r'(?:src|href)="ui/([^"]+)"', page):
        assert (UI / reference).is_file(), reference


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_every_import_resolves_and_no_script_parses_html(script: Path) -> None:
    source = script.read_text(encoding="utf-8")
    for imported in re.findall(r'from "\./([^"]+)"', source):
        assert (UI / imported).is_file(), imported
    # Text is set as text: none of the ways a string becomes markup or code.
    assert not re.search(r"innerHTML|outerHTML|insertAdjacentHTML|document\.write|"
                         r"\beval\(|new Function|setTimeout\(\s*['\"`]", source)


def test_both_languages_have_every_string() -> None:
    def keys(name: str) -> set[str]:
        return set(re.findall(r'^\s*"?([\w.]+)"?:', (UI / name).read_text(encoding="utf-8"),
                              re.MULTILINE))
    english, german = keys("strings-en.js"), keys("strings-de.js")
    assert english == german
    used = set()
    for script in SCRIPTS:
        used |= set(re.findall(r'\bt\("([\w.]+)"', script.read_text(encoding="utf-8")))
    assert used <= english, used - english
