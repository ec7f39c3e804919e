"""The request inbox of the local stack: a receiver for webhooks that shows what it got.

Any request to a path under the inbox's URL (any method but a ``GET`` of the page itself)
is kept and answered ``200``; ``GET /`` shows the kept requests, newest first: method,
path with query, headers and body. A new user points a webhook at it, presses "Validate
webhook", reads the secret here and types it back: the whole flow with no code of their
own. It keeps the last ``keep`` requests in memory and logs nothing (a validation request
carries its secret in the query).
"""
from __future__ import annotations

import base64
import hashlib
import html
import json
import threading
import time
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MAX_BODY = 64 * 1024

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 1rem auto; max-width: 64rem;
       padding: 0 1rem; color: #1c2430; }
article { border: 1px solid #d5dbe3; border-radius: 8px; padding: 0 1rem 1rem; margin: 1rem 0; }
pre { background: #f3f5f8; padding: .5rem; white-space: pre-wrap; overflow-wrap: anywhere; }
h2 { font-size: 1.1rem; overflow-wrap: anywhere; } h3 { font-size: 1rem; margin-bottom: .25rem; }
"""
_STYLE_HASH = base64.b64encode(hashlib.sha256(_STYLE.encode()).digest()).decode()
_HEADERS = {
    "Content-Type": "text/html; charset=utf-8",
    "Content-Security-Policy": f"default-src 'none'; style-src 'sha256-{_STYLE_HASH}'",
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
}


@dataclass(frozen=True)
class KeptRequest:
    """One request the inbox got."""

    method: str
    path: str
    headers: list[tuple[str, str]]
    body: bytes
    received_at: float

    def body_text(self) -> str:
        text = self.body.decode("utf-8", errors="replace")
        try:
            return json.dumps(json.loads(text), indent=2, ensure_ascii=False)
        except ValueError:
            return text


class Inbox:
    """A request inbox on ``host``:``port`` (0: any free port)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, keep: int = 200) -> None:
        self.requests: deque[KeptRequest] = deque(maxlen=keep)
        self._host = host
        inbox = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _keep(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(min(length, MAX_BODY)) if length > 0 else b""
                if length > MAX_BODY:
                    self.close_connection = True  # the rest is not read
                inbox.requests.appendleft(KeptRequest(
                    self.command, self.path, list(self.headers.items()), body, time.time()))
                self._answer(200, b'{"received": true}', {"Content-Type": "application/json"})

            def _answer(self, status: int, body: bytes, headers: dict[str, str]) -> None:
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def do_GET(self) -> None:
                if self.path == "/":
                    self._answer(200, inbox.page().encode("utf-8"), _HEADERS)
                else:
                    self._keep()

            do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _keep

            def log_message(self, format: str, *args: Any) -> None:
                pass  # a validation request's query holds its secret: log nothing

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="inbox",
                                        daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self._host}:{self._server.server_port}/"

    def start(self) -> Inbox:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def page(self) -> str:
        """The inbox as an HTML page, every value escaped."""
        kept = list(self.requests)
        parts = [
            "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
            "<meta name='viewport' content='width=device-width, initial-scale=1'>",
            f"<title>Request inbox ({len(kept)})</title><style>{_STYLE}</style></head>",
            "<body><main><h1>Request inbox</h1>",
            f"<p>Point a webhook at any path under <code>{html.escape(self.url)}</code>, "
            "e.g. <code>", html.escape(self.url + "clockodo"), "</code>. Every request is "
            "kept here, newest first, and answered 200. <a href='/'>Refresh</a></p>",
        ]
        if not kept:
            parts.append("<p>No requests yet.</p>")
        for request in kept:
            when = time.strftime("%H:%M:%S", time.localtime(request.received_at))
            headers = "\n".join(f"{name}: {value}" for name, value in request.headers)
            parts += [
                "<article><h2>", html.escape(f"{request.method} {request.path}"),
                f" <small>at {when}</small></h2>",
                "<h3>Headers</h3><pre>", html.escape(headers), "</pre>",
                "<h3>Body</h3><pre>", html.escape(request.body_text()) or "(empty)",
                "</pre></article>",
            ]
        parts.append("</main></body></html>")
        return "".join(parts)
