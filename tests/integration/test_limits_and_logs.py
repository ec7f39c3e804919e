"""Limits against abuse (per API user, per webhook's validations), and the log lines an
operator follows, through the real middleware and handlers on moto's server."""
from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from chalicelib import aws, clock, limits, observability, settings
from tests.integration.conftest import Tenant, make_tenant
from tests.receivers import Receiver


def error_of(response: Any) -> dict[str, Any]:
    (error,) = response.json_body["errors"]
    return dict(error)


def _limit(monkeypatch: pytest.MonkeyPatch, name: str, value: int) -> None:
    monkeypatch.setenv(name, str(value))
    settings.get.cache_clear()
    # the middle of a window, so that no test straddles two
    monkeypatch.setattr(clock, "now", lambda: 1_800_000_030.0)


def test_an_api_user_over_the_rate_limit_gets_429_with_retry_after(
        monkeypatch: pytest.MonkeyPatch, client: Any) -> None:
    _limit(monkeypatch, "WEBHOOKS_RATE_LIMIT_PER_MINUTE", 5)
    busy, other = make_tenant(client, name="Busy"), make_tenant(client, name="Other")
    answers = [busy.call("GET", "/v2/webhooks").status_code for _ in range(5)]
    assert answers == [200] * 5
    refused = busy.call("GET", "/v2/webhooks")
    assert refused.status_code == 429
    error = error_of(refused)
    assert error["type"] == "TooManyRequests"
    assert error["details"]["limit"] == 5
    assert refused.headers["Retry-After"] == "30"  # the rest of the minute
    assert error["details"]["retry_after"] == 30
    # one user's limit never touches another's
    assert other.call("GET", "/v2/webhooks").status_code == 200


def test_the_rate_limit_holds_across_concurrent_requests(monkeypatch: pytest.MonkeyPatch
                                                         ) -> None:
    """The count is one atomic DynamoDB counter, not memory: 20 requests at once with a
    limit of 7 get exactly 7 through. (The counter is called directly: Chalice's test
    client swaps os.environ per request and cannot be used from several threads.)"""
    _limit(monkeypatch, "WEBHOOKS_RATE_LIMIT_PER_MINUTE", 7)

    def request(_: int) -> int:
        try:
            limits.api_request("busy@example.com", 7)
        except limits.TooManyRequests:
            return 429
        return 200

    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(request, range(20)))
    assert sorted(statuses) == [200] * 7 + [429] * 13
    (item,) = aws.dynamodb().scan(TableName=aws.table_name("rate_limits"))["Items"]
    assert item["count"] == {"N": "7"}
    assert item["bucket"]["S"] == f"user#busy@example.com#{1_800_000_030 // 60}"


def test_refused_credentials_do_not_count_against_the_user(
        monkeypatch: pytest.MonkeyPatch, tenant: Tenant) -> None:
    _limit(monkeypatch, "WEBHOOKS_RATE_LIMIT_PER_MINUTE", 2)
    wrong = {**tenant.headers(), "X-ClockodoApiKey": "0" * 32}
    assert [tenant.call("GET", "/v2/webhooks", headers=wrong).status_code
            for _ in range(4)] == [401] * 4
    assert tenant.call("GET", "/v2/webhooks").status_code == 200


def test_validation_requests_per_webhook_are_limited(monkeypatch: pytest.MonkeyPatch,
                                                     tenant: Tenant, receiver: Receiver) -> None:
    _limit(monkeypatch, "WEBHOOKS_VALIDATIONS_PER_HOUR", 2)
    ids = [tenant.call("POST", "/v2/webhooks", {"event_name": "customer.created",
                                                "url": receiver.url, "token": token}
                       ).json_body["data"]["id"] for token in ("a-1", "b-2")]
    validate = [tenant.call("POST", f"/v2/webhooks/{ids[0]}/validate") for _ in range(3)]
    assert [r.status_code for r in validate] == [200, 200, 429]
    assert error_of(validate[2])["type"] == "TooManyRequests"
    assert error_of(validate[2])["path"] == "url"
    assert validate[2].headers["Retry-After"] == str(3600 - 1_800_000_030 % 3600)
    assert len(receiver.wait_for(2)) == 2  # the refused one sent nothing
    # another webhook has its own count
    assert tenant.call("POST", f"/v2/webhooks/{ids[1]}/validate").status_code == 200


def test_an_unreachable_endpoint_names_the_failure_class(tenant: Tenant) -> None:
    closed = Receiver().start()
    url = closed.url
    closed.stop()
    webhook = tenant.call("POST", "/v2/webhooks", {"event_name": "customer.created",
                                                   "url": url, "token": "t-1"}).json_body["data"]
    error = error_of(tenant.call("POST", f"/v2/webhooks/{webhook['id']}/validate"))
    assert (error["type"], error["details"]["reason"]) == ("EndpointUnreachable", "connection")


def _json_lines(text: str) -> list[dict[str, Any]]:
    lines = []
    for line in text.splitlines():
        if line.startswith("{"):
            try:
                lines.append(json.loads(line))
            except ValueError:
                continue
    return lines


def test_api_requests_and_validations_are_logged_as_json_without_secrets(
        capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture, tenant: Tenant,
        receiver: Receiver) -> None:
    capfd.readouterr()
    webhook = tenant.call("POST", "/v2/webhooks", {
        "event_name": "customer.created", "url": receiver.url + "/in?key=hush-hush",
        "token": "secret-token-1"}).json_body["data"]
    tenant.call("POST", f"/v2/webhooks/{webhook['id']}/validate")
    secret = receiver.wait_for(1)[0].json()["secret"]
    tenant.call("GET", f"/v2/webhooks/{webhook['id']}")
    # the lines as Powertools writes them to standard output (CloudWatch Logs on AWS)
    formatter = observability.logger.registered_formatter
    logged = "\n".join(formatter.format(record) for record in caplog.records
                       if record.name == observability.SERVICE)
    lines = _json_lines(logged)
    requests = [line for line in lines if line.get("message") == "api request"]
    assert [(r["method"], r["route"], r["status"]) for r in requests] == [
        ("POST", "/v2/webhooks", 201),
        ("POST", "/v2/webhooks/{webhook_id}/validate", 200),
        ("GET", "/v2/webhooks/{webhook_id}", 200)]
    assert all(r["function"] == "api_handler" and r["company_id"] == tenant.company_id
               and r["duration_ms"] >= 0 and r["level"] == "INFO" for r in requests)
    (validation,) = [line for line in lines if line.get("message") == "validation request"]
    assert (validation["webhook_id"], validation["status_code"]) == (webhook["id"], 200)
    # metrics: EMF lines on standard output
    metrics = [line for line in _json_lines(capfd.readouterr().out) if "_aws" in line]
    assert any(m.get("ValidationRequests") == [1.0] for m in metrics)
    assert any("ApiRequests" in m and "ApiLatency" in m for m in metrics)
    for secret_value in (tenant.api_key, "secret-token-1", "hush-hush", secret):
        assert secret_value not in logged
