"""The Webhooks tab's files, served by the app: without credentials, with a strict
Content-Security-Policy, and nothing outside chalicelib/ui/."""
from __future__ import annotations

from pathlib import Path

from chalice.test import Client

from chalicelib import webui

UI = Path(webui.FOLDER)


def test_the_page_is_public_and_allows_only_the_services_own_files(client: Client) -> None:
    response = client.http.get("/")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    policy = dict(part.strip().split(" ", 1)
                  for part in response.headers["Content-Security-Policy"].split(";"))
    assert policy["default-src"] == "'none'"
    assert policy["script-src"] == policy["connect-src"] == policy["style-src"] == "'self'"
    assert policy["frame-ancestors"] == "'none'"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert b"<h1" not in response.body  # the views are drawn by the scripts


def test_the_files_are_served_with_their_type(client: Client) -> None:
    for name, content_type in (("main.js", "text/javascript; charset=utf-8"),
                               ("style.css", "text/css; charset=utf-8"),
                               ("icon.svg", "image/svg+xml")):
        response = client.http.get(f"/ui/{name}")
        assert (response.status_code, response.headers["Content-Type"]) == (200, content_type)
        assert response.body == (UI / name).read_bytes()
        assert "Content-Security-Policy" in response.headers


def test_nothing_else_is_served(client: Client) -> None:
    for name in ("index.html", "nope.js", "..%2Fwebui.py", "%2E%2E", "MAIN.JS", "main.js.map",
                 "a" * 300 + ".js"):
        response = client.http.get(f"/ui/{name}")
        assert response.status_code == 404, name
        assert response.json_body["errors"][0]["type"] == "ResourceNotFound"
