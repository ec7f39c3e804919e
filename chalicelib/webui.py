"""The Webhooks tab: the web UI's files (``chalicelib/ui/``), served by the API itself.

The UI is a client of the documented JSON API like any other: plain HTML, CSS and
JavaScript modules, no build step. Every answer carries a Content-Security-Policy that
lets the page run only the service's own files and talk only to the service, so a value a
user typed can never run as script even if it were ever put into the page as markup.
"""
from __future__ import annotations

import re
from pathlib import Path

from chalice.app import Response

from chalicelib.errors import NotFound

FOLDER = Path(__file__).resolve().parent / "ui"

#: A file name under /ui/: no folders, no dots but the extension's.
_NAME = re.compile(r"^[a-z0-9-]{1,64}\.(js|css|svg)$")

CONTENT_TYPES = {
    "html": "text/html; charset=utf-8",
    "js": "text/javascript; charset=utf-8",
    "css": "text/css; charset=utf-8",
    "svg": "image/svg+xml",
}

CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self'",
    "connect-src 'self'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])

SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


def _file(name: str) -> Response:
    extension = name.rpartition(".")[2]
    text = (FOLDER / name).read_text(encoding="utf-8")
    return Response(body=text, status_code=200,
                    headers={**SECURITY_HEADERS, "Content-Type": CONTENT_TYPES[extension]})


def page() -> Response:
    """The Webhooks tab's page (``GET /``)."""
    return _file("index.html")


def asset(name: str) -> Response:
    """One of the page's scripts, style sheets or images (``GET /ui/{name}``)."""
    if not _NAME.match(name) or not (FOLDER / name).is_file():
        raise NotFound(f"no UI file {name[:64]!r}", path="name")
    return _file(name)
