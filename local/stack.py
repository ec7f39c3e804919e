"""`make run`: the whole service on one machine, on an embedded moto backend.

Starts moto's server on loopback, creates the tables from the deployment template, creates
a demo company, serves the Chalice app on 127.0.0.1:$PORT, prints one ``READY {json}``
line, and runs until Ctrl-C or SIGTERM. State lives as long as the process.

Environment: ``PORT`` (API, default 8000), ``MOTO_PORT`` (AWS endpoint, default 8001),
``INBOX_PORT`` (the request inbox, ``local/inbox.py``, default 8002); 0 picks a free port.
For tests: ``LOCAL_QUEUE_VISIBILITY_TIMEOUT`` (seconds, instead of the template's),
``LOCAL_BATCHING_WINDOW_SECONDS`` (the batching window of streams and queues) and
``LOCAL_FAULTS`` (see ``local/faults.py``), ``LOCAL_AWS_CALL_LOG`` (see
``local/aws_calls.py``). The dev stage's settings come from
``.chalice/config.json``; variables already set in the environment win.
"""
from __future__ import annotations

import faulthandler
import functools
import json
import logging
import os
import signal
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

PROJECT = Path(__file__).resolve().parent.parent
DEFAULT_PORT = 8000
DEFAULT_MOTO_PORT = 8001
DEFAULT_INBOX_PORT = 8002
DEMO_EMAIL = "demo@example.com"


def _port(name: str, default: int) -> int:
    value = os.environ.get(name, str(default))
    if not value.isdigit() or int(value) > 65535:
        raise SystemExit(f"{name} must be a port number, not {value!r}")
    return int(value)


def _wait_until_serving(url: str, deadline: float) -> None:
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - our URL
                if response.status == 200:
                    return
        except OSError:
            if time.monotonic() > deadline:
                raise
        time.sleep(0.05)


class LocalStack:
    """The running parts of the local stack, started and stopped together."""

    def __init__(self, port: int, moto_port: int, inbox_port: int = DEFAULT_INBOX_PORT) -> None:
        self.port = port
        self.moto_port = moto_port
        self.inbox_port = inbox_port
        self._inbox: Any = None
        # A plain flag, not a threading.Event: the signal handler sets it, and Event.set()
        # in a handler can deadlock on the lock the interrupted Event.wait() holds.
        self._stop_requested = False
        self._moto: Any = None
        self._api: Any = None
        self._api_thread: threading.Thread | None = None
        self._pollers: list[Any] = []
        self._failure_queue = ""

    def start(self) -> dict[str, Any]:
        from chalicelib import admin

        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's per-request lines
        for name, value in admin.stage_environment("dev").items():
            os.environ.setdefault(name, value)
        from local.aws_backend import MotoBackend

        self._moto = MotoBackend("127.0.0.1", self.moto_port).start()
        admin.use_local_stack(self._moto.endpoint)

        from chalicelib import aws, settings
        from local import aws_calls
        from local.infra import create_all

        aws_calls.install(aws.session())  # for the IAM test, when LOCAL_AWS_CALL_LOG is set
        aws_calls.label(aws.session())  # the backend counts calls per function (make bench)

        visibility = os.environ.get("LOCAL_QUEUE_VISIBILITY_TIMEOUT")
        infra = create_all(aws.dynamodb(), aws.sqs(), settings.get().table_prefix,
                           visibility_timeout=int(visibility) if visibility else None)
        # Lambda knows its stream from the event source mapping; Chalice wants the ARN when
        # app.py is imported, so it goes into the environment before that import.
        os.environ["WEBHOOKS_RESOURCES_STREAM_ARN"] = infra.resources_stream_arn
        settings.get.cache_clear()
        self._failure_queue = infra.queues["FanOutFailureQueue"]
        demo = admin.create_company("Demo GmbH", "enterprise", DEMO_EMAIL)

        api_url = self._serve_api()
        self._start_event_sources()
        from local.inbox import Inbox

        self._inbox = Inbox("127.0.0.1", self.inbox_port).start()
        return {
            "api": api_url,
            "ui": api_url + "/",
            "inbox": self._inbox.url,
            "aws_endpoint": self._moto.endpoint,
            "company_id": demo["company_id"],
            "api_user": demo["api_user"],
            "api_key": demo["api_key"],
            "stage": "dev",
            "tables_prefix": settings.get().table_prefix,
        }

    def _serve_api(self) -> str:
        from chalice.cli.factory import CLIFactory
        from chalice.local import ThreadedHTTPServer, create_local_server

        from local.gateway import GatewayRequestHandler

        # API Gateway takes bursts; socketserver's default listen backlog of 5 resets them.
        ThreadedHTTPServer.request_queue_size = 128

        sys.path.insert(0, str(PROJECT))
        import app as app_module

        config = CLIFactory(str(PROJECT)).create_config_obj(chalice_stage_name="dev")
        self._api = create_local_server(app_module.app, config, "127.0.0.1", self.port)
        # API Gateway's own answers (an unknown route) as the template configures them
        self._api.server.RequestHandlerClass = functools.partial(
            GatewayRequestHandler, app_object=app_module.app, config=config)
        host, port = self._api.server.server_address[:2]
        # The server itself, not LocalDevServer.serve_forever, which prints the asked-for port.
        self._api_thread = threading.Thread(target=self._api.server.serve_forever, name="api",
                                            daemon=True)
        self._api_thread.start()
        api_url = f"http://{host}:{port}"
        _wait_until_serving(f"{api_url}/v2/openapi.json", time.monotonic() + 30)
        return api_url

    def _start_event_sources(self) -> None:
        import app as app_module
        from chalicelib import admin, aws
        from local import event_sources, faults

        if os.environ.get("LOCAL_FAULTS"):
            faults.install(os.environ["LOCAL_FAULTS"])

        def on_stream_failure(details: dict[str, Any]) -> None:
            aws.sqs().send_message(QueueUrl=self._failure_queue,
                                   MessageBody=json.dumps(details))

        self._pollers = event_sources.for_app(
            app_module.app, app_module, streams=aws.session().client(
                "dynamodbstreams", config=aws.client_config()),
            sqs=aws.sqs(), region=admin.LOCAL_REGION, on_stream_failure=on_stream_failure,
            batching_window=float(os.environ["LOCAL_BATCHING_WINDOW_SECONDS"])
            if os.environ.get("LOCAL_BATCHING_WINDOW_SECONDS") else None)

    def wait(self) -> None:
        while not self._stop_requested:
            time.sleep(0.1)

    def stop(self, *_: Any) -> None:
        self._stop_requested = True

    def shutdown(self) -> None:
        for poller in self._pollers:  # all at once: their long polls end side by side
            poller.request_stop()
        deadline = time.monotonic() + 2
        for poller in self._pollers:
            poller.stop(timeout=max(0.0, deadline - time.monotonic()))
        if self._inbox is not None:
            self._inbox.stop()
        if self._api is not None:
            self._api.shutdown()
        if self._moto is not None:
            self._moto.stop()


def main() -> int:
    os.chdir(PROJECT)
    faulthandler.register(signal.SIGUSR1)  # `kill -USR1 <pid>` prints every thread's stack
    stack = LocalStack(_port("PORT", DEFAULT_PORT), _port("MOTO_PORT", DEFAULT_MOTO_PORT),
                       _port("INBOX_PORT", DEFAULT_INBOX_PORT))
    signal.signal(signal.SIGTERM, stack.stop)
    signal.signal(signal.SIGINT, stack.stop)
    try:
        ready = stack.start()
        print("READY " + json.dumps(ready), flush=True)
        stack.wait()
    finally:
        stack.shutdown()
    print("stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
