"""The embedded AWS backend: moto's server, in-process, on loopback.

moto applies a DynamoDB transaction by copying the tables, writing, and restoring the copy
when a condition fails; two transactions running at once in moto's threaded server can
therefore undo each other's writes. Real DynamoDB applies each request atomically, so this
backend serializes DynamoDB requests to behave the same. Other services (SQS long polls)
run concurrently.
"""
from __future__ import annotations

import io
import json
import threading
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import BaseWSGIServer, make_server

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class SerializedDynamoDB:
    """WSGI middleware: one DynamoDB request at a time, everything else as it comes.

    It also counts the AWS calls it serves by action and table or queue (and, for an
    item of ``rate_limits``, the kind of counter: ``user``, ``endpoint``, ``company``…),
    for the benchmark: ``GET /_local/calls`` answers the counts, ``DELETE /_local/calls``
    resets them.
    """

    def __init__(self, app: WsgiApp) -> None:
        self._app = app
        self._lock = threading.Lock()
        self._count_lock = threading.Lock()
        self.calls: Counter[str] = Counter()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if environ.get("PATH_INFO") == "/_local/calls":
            return self._calls(environ, start_response)
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        self._count(environ, target)
        if not target.startswith("DynamoDB_"):
            return self._app(environ, start_response)
        with self._lock:
            return list(self._app(environ, start_response))

    def _count(self, environ: dict[str, Any], target: str) -> None:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        try:
            request = json.loads(body) if body.startswith(b"{") else {}
        except ValueError:
            request = {}
        action = target.rsplit(".", 1)[-1] or environ.get("QUERY_STRING", "")
        where = request.get("TableName") or request.get("QueueUrl", "").rsplit("/", 1)[-1] \
            or ",".join(sorted(request.get("RequestItems", {}))) or ""
        if request.get("IndexName"):
            where += "/" + request["IndexName"]
        bucket = request.get("Key", {}).get("bucket", {}).get("S")
        if isinstance(bucket, str):  # a rate_limits item: say which kind of counter
            where += " " + bucket.split("#", 1)[0]
        with self._count_lock:
            self.calls[f"{action} {where}".strip()] += 1

    def _calls(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        with self._count_lock:
            if environ.get("REQUEST_METHOD") == "DELETE":
                self.calls.clear()
            payload = json.dumps(dict(self.calls)).encode()
        start_response("200 OK", [("Content-Type", "application/json"),
                                  ("Content-Length", str(len(payload)))])
        return [payload]


class MotoBackend:
    """moto's server on ``host:port`` (port 0 picks a free one) in a daemon thread."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._host = host
        app = SerializedDynamoDB(DomainDispatcherApplication(create_backend_app))
        self._server: BaseWSGIServer = make_server(host, port, app, threaded=True,
                                                   request_handler=MotoRequestHandler)
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        name="moto", daemon=True)

    @property
    def endpoint(self) -> str:
        return f"http://{self._host}:{self._server.server_address[1]}"

    def start(self) -> MotoBackend:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join(timeout=5)
