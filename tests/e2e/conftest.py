"""End-to-end fixtures: the local stack started as a user starts it (`make run`)."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from tests.conftest import ROOT

APPLICATION = "e2e-tests;dev@example.com"


@dataclass
class RunningStack:
    process: subprocess.Popen[str]
    ready: dict[str, Any]
    output: list[str]
    reader: threading.Thread

    @property
    def api(self) -> str:
        return self.ready["api"]

    @property
    def moto_port(self) -> int:
        return int(urlsplit(self.ready["aws_endpoint"]).port or 0)

    def stop(self, timeout: float = 30) -> None:
        """SIGTERM the process group; return once every process in it closed its output
        (fail, after killing it, if that takes longer than ``timeout``)."""
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        self.reader.join(timeout=timeout)  # EOF: every process of the group has exited
        if self.reader.is_alive():
            os.killpg(self.process.pid, signal.SIGUSR1)  # the stack prints its threads
            self.reader.join(timeout=2)
            os.killpg(self.process.pid, signal.SIGKILL)
            raise AssertionError("the stack did not stop on SIGTERM:\n"
                                 + "".join(self.output[-80:]))
        self.process.wait(timeout=5)


def start_stack(extra_env: dict[str, str] | None = None) -> RunningStack:
    """Run `make run` on free ports and wait for its READY line."""
    env = {**os.environ, "PORT": "0", "MOTO_PORT": "0", "INBOX_PORT": "0",
           **(extra_env or {})}
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        env.pop(name, None)
    process = subprocess.Popen(["make", "--no-print-directory", "run"], cwd=ROOT, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               start_new_session=True)
    output: list[str] = []
    found: dict[str, Any] = {}
    got_ready = threading.Event()

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            output.append(line)
            if line.startswith("READY ") and not found:
                found.update(json.loads(line.removeprefix("READY ")))
                got_ready.set()
        got_ready.set()

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    if not got_ready.wait(timeout=180) or not found:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        raise AssertionError("the local stack did not get ready:\n" + "".join(output[-50:]))
    return RunningStack(process, found, output, reader)


@pytest.fixture(scope="session")
def stack() -> Iterator[RunningStack]:
    running = start_stack()
    yield running
    running.stop()


def _session() -> requests.Session:
    session = requests.Session()
    adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=32)
    session.mount("http://", adapter)
    return session


@dataclass
class ApiUser:
    """Calls the running API over HTTP with one company's credentials."""

    api: str
    api_user: str
    api_key: str
    company_id: int
    session: requests.Session = field(default_factory=_session)

    def call(self, method: str, path: str, body: Any = None, **kwargs: Any) -> Any:
        headers = {"X-ClockodoApiUser": self.api_user, "X-ClockodoApiKey": self.api_key,
                   "X-Clockodo-External-Application": APPLICATION}
        headers.update(kwargs.pop("headers", {}))
        if body is not None and not isinstance(body, (bytes, str)):
            kwargs["json"] = body
        elif body is not None:
            kwargs["data"] = body
            headers.setdefault("Content-Type", "application/json")
        return self.session.request(method, self.api + path, headers=headers, timeout=30,
                                    **kwargs)


def admin_cli(stack: RunningStack, *args: str) -> list[dict[str, Any]]:
    """Run the operator CLI against the running stack, as the README shows."""
    env = {**os.environ, "MOTO_PORT": str(stack.moto_port)}
    result = subprocess.run([sys.executable, "-m", "chalicelib.admin", *args], cwd=ROOT,
                            env=env, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


def new_company(stack: RunningStack, name: str, plan: str) -> ApiUser:
    (created,) = admin_cli(stack, "create-company", "--name", name, "--plan", plan,
                           "--email", f"{name.lower().replace(' ', '-')}@example.com")
    return ApiUser(stack.api, created["api_user"], created["api_key"], created["company_id"])


@pytest.fixture(scope="session")
def demo(stack: RunningStack) -> ApiUser:
    return ApiUser(stack.api, stack.ready["api_user"], stack.ready["api_key"],
                   stack.ready["company_id"])


_names = iter(range(1, 10**6))


@pytest.fixture
def company(stack: RunningStack) -> ApiUser:
    """A fresh enterprise company per test."""
    return new_company(stack, f"Company {next(_names)} {time.monotonic_ns()}", "enterprise")


def activate(user: ApiUser, receiver: Any, event_name: str, path: str = "",
             token: str | None = None) -> dict[str, Any]:
    """Create a webhook for ``receiver`` and take it through validation: the secret the
    receiver got is typed back, as a person would. Returns the webhook and its secret."""
    before = len(receiver.requests)
    created = user.call("POST", "/v2/webhooks", {
        "event_name": event_name, "url": receiver.url + path,
        "token": token or f"{event_name}-{time.monotonic_ns()}"})
    assert created.status_code == 201, created.text
    webhook = created.json()["data"]
    assert user.call("POST", f"/v2/webhooks/{webhook['id']}/validate").status_code == 200
    # validation is synchronous: the request is in by the time validate answers
    request = [r for r in receiver.requests[before:] if "secret=" in r.path][-1]
    verified = user.call("POST", f"/v2/webhooks/{webhook['id']}/verify",
                         {"secret": request.json()["secret"]})
    assert verified.status_code == 200, verified.text
    secret = user.call("GET", f"/v2/webhooks/{webhook['id']}/secret").json()["data"]["secret"]
    return {**verified.json()["data"], "signing_secret": secret}


def aws_client(stack: RunningStack, service: str) -> Any:
    """A boto3 client for the stack's embedded AWS endpoint (moto)."""
    import boto3
    from botocore.config import Config

    return boto3.client(service, endpoint_url=stack.ready["aws_endpoint"],
                        region_name="eu-central-1", aws_access_key_id="local",
                        aws_secret_access_key="local",
                        config=Config(account_id_endpoint_mode="disabled"))


def wait_until_queue_is_empty(stack: RunningStack, timeout: float = 30) -> None:
    """Until the delivery queue and the burst lane hold no message, waiting or in flight."""
    sqs = aws_client(stack, "sqs")
    urls = [sqs.get_queue_url(QueueName=stack.ready["tables_prefix"] + name)["QueueUrl"]
            for name in ("-deliveries", "-deliveries-bursts")]
    deadline = time.monotonic() + timeout
    while True:
        counts = [sqs.get_queue_attributes(QueueUrl=url, AttributeNames=[
            "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
            "ApproximateNumberOfMessagesDelayed"])["Attributes"] for url in urls]
        if all(value == "0" for attributes in counts for value in attributes.values()):
            return
        assert time.monotonic() < deadline, f"the delivery queues stayed busy: {counts}"
        time.sleep(0.05)
