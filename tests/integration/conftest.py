"""Integration fixtures: moto's server, the real tables and queues, Chalice's test client."""
from __future__ import annotations

import json
import logging
import os
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import botocore.loaders
import botocore.session
import pytest
from chalice.test import Client

from chalicelib import admin, aws
from local import aws_calls
from local.aws_backend import MotoBackend
from local.infra import LocalInfrastructure, create_all
from tests.conftest import ROOT

APPLICATION = "integration-tests;dev@example.com"


@pytest.fixture(scope="session", autouse=True)
def shared_botocore_data() -> Iterator[None]:
    """One botocore data loader for the session's boto3 sessions. Every test resets the
    clients (``aws.reset()``, a new boto3 session), and each new session would otherwise
    read and parse the service models (the JSON files of DynamoDB, SQS, the endpoints)
    again: about 0.1 s a test. The models are read-only, so sharing them changes nothing
    else; the clients, their endpoint and credentials are still new for every test."""
    loaders: dict[str | None, botocore.loaders.Loader] = {}

    def create_loader(search_path_string: str | None = None) -> botocore.loaders.Loader:
        loader = loaders.get(search_path_string)
        if loader is None:
            loader = loaders[search_path_string] = botocore.loaders.create_loader(
                search_path_string)
        # boto3 appends its own data path to the loader of each session it creates
        loader.search_paths[:] = list(dict.fromkeys(loader.search_paths))
        return loader

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(botocore.session, "create_loader", create_loader)
        yield


@pytest.fixture(scope="session")
def moto_server() -> Iterator[MotoBackend]:
    """moto's server on loopback, as the local stack runs it (DynamoDB requests atomic)."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's per-request lines
    backend = MotoBackend().start()
    yield backend
    backend.stop()


@pytest.fixture(autouse=True)
def aws_backend(monkeypatch: pytest.MonkeyPatch,
                moto_server: MotoBackend) -> Iterator[LocalInfrastructure]:
    """A reset moto with the service's tables and queues, under the dev stage's settings."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    urllib.request.urlopen(urllib.request.Request(
        moto_server.endpoint + "/moto-api/reset", method="POST"), timeout=10).close()
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server.endpoint)
    for name, value in admin.stage_environment("dev").items():
        monkeypatch.setenv(name, value)
    # every delivery on the main queue unless a test is about a company's share of it
    monkeypatch.setenv("WEBHOOKS_COMPANY_SHARE", "1000")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", admin.LOCAL_REGION)
    monkeypatch.setenv("AWS_ACCOUNT_ID_ENDPOINT_MODE", "disabled")
    aws.reset()
    aws_calls.install(aws.session())  # what each function calls, for the IAM test
    yield create_all(aws.dynamodb(), aws.sqs(), os.environ["WEBHOOKS_TABLE_PREFIX"])
    aws.reset()


@dataclass
class Tenant:
    """A company with an API key, and a way to call the API as it."""

    client: Client
    company_id: int
    api_user: str
    api_key: str

    def headers(self, **extra: str) -> dict[str, str]:
        return {"X-ClockodoApiUser": self.api_user, "X-ClockodoApiKey": self.api_key,
                "X-Clockodo-External-Application": APPLICATION,
                "Content-Type": "application/json", **extra}

    def call(self, method: str, path: str, body: Any = None,
             headers: dict[str, str] | None = None) -> Any:
        raw = body if isinstance(body, (bytes, str)) or body is None else json.dumps(body)
        return self.client.http.request(method, path, headers=headers or self.headers(),
                                        body=raw or b"")


@pytest.fixture
def client() -> Iterator[Client]:
    import app

    with Client(app.app, stage_name="dev", project_dir=str(ROOT)) as test_client:
        yield test_client


def make_tenant(client: Client, plan: str = "enterprise", name: str = "Acme") -> Tenant:
    created = admin.create_company(name, plan, f"{name.lower()}-{plan}@example.com")
    return Tenant(client, created["company_id"], created["api_user"], created["api_key"])


@pytest.fixture
def tenant(client: Client) -> Tenant:
    return make_tenant(client)


@pytest.fixture
def other_tenant(client: Client) -> Tenant:
    return make_tenant(client, name="Rival")
