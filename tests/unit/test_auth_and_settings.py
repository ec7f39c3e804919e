"""Reading credentials from headers, key hashing, and settings parsing."""
from __future__ import annotations

import base64
import ipaddress

import pytest

from chalicelib import auth, settings


def basic(value: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(value.encode()).decode()}


def test_credentials_from_clockodo_headers() -> None:
    headers = {auth.USER_HEADER: " Admin@Example.com ", auth.KEY_HEADER: "k1"}
    assert auth.credentials(headers) == ("admin@example.com", "k1")


def test_credentials_from_basic_auth() -> None:
    assert auth.credentials(basic("a@b.de:sec:ret")) == ("a@b.de", "sec:ret")


@pytest.mark.parametrize("headers", [
    {},
    {auth.USER_HEADER: "a@b.de"},
    {"Authorization": "Bearer abc"},
    {"Authorization": "Basic !!!"},
    {"Authorization": "Basic"},
    basic("no-colon"),
    basic(":key"),
    basic("user:"),
    {"Authorization": "Basic " + base64.b64encode(b"\xff\xfe:x").decode()},
])
def test_missing_or_malformed_credentials(headers: dict[str, str]) -> None:
    assert auth.credentials(headers) is None


def test_keys_are_stored_as_sha256() -> None:
    assert auth.hash_key("abc") == \
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


def test_settings_defaults() -> None:
    config = settings.from_environ({})
    assert config.stage == "dev"
    assert config.table("webhooks") == "clockodo-webhooks-dev-webhooks"
    assert config.allow_http is False
    assert config.allowed_networks == ()
    assert config.validation_secret_ttl_seconds == 3600
    assert config.validation_max_attempts == 5


def test_settings_parse_networks_and_flags() -> None:
    config = settings.from_environ({"WEBHOOKS_ALLOWED_NETWORKS": "127.0.0.0/8, ::1/128,",
                                    "WEBHOOKS_ALLOW_HTTP": "true",
                                    "WEBHOOKS_STAGE": "prod"})
    assert config.allowed_networks == (ipaddress.ip_network("127.0.0.0/8"),
                                       ipaddress.ip_network("::1/128"))
    assert config.allow_http is True
    assert config.table_prefix == "clockodo-webhooks-prod"


@pytest.mark.parametrize("env", [
    {"WEBHOOKS_ALLOWED_NETWORKS": "not-a-net"},
    {"WEBHOOKS_ALLOW_HTTP": "maybe"},
    {"WEBHOOKS_PLAN_LIMITS": "basic"},
    {"WEBHOOKS_VALIDATION_TTL_SECONDS": "-5"},
    {"WEBHOOKS_VALIDATION_TIMEOUT_SECONDS": "soon"},
])
def test_bad_settings_fail_loudly(env: dict[str, str]) -> None:
    with pytest.raises(settings.SettingError):
        settings.from_environ(env)


def test_overlong_users_are_refused_before_any_lookup(monkeypatch) -> None:
    # DynamoDB refuses partition keys over 2048 bytes (moto does not): such a user must
    # never reach the query, or it would be a 500 in AWS.
    def no_lookup(api_user: str) -> list:
        raise AssertionError("looked up")

    monkeypatch.setattr(auth, "_keys_of", no_lookup)
    headers = {auth.USER_HEADER: "a" * 3000 + "@example.com", auth.KEY_HEADER: "k",
               auth.EXTERNAL_APPLICATION_HEADER: "tests;dev@example.com"}
    with pytest.raises(auth.Unauthenticated):
        auth.authenticate(headers)


@pytest.mark.parametrize("user", [" ", "\u00a0", "\u3000", "\t\u2003 "])
def test_users_that_are_only_whitespace_are_refused_before_any_lookup(monkeypatch,
                                                                       user: str) -> None:
    # normalised to "", which DynamoDB refuses as a key (a 500 before this check)
    def no_lookup(api_user: str) -> list:
        raise AssertionError("looked up")

    monkeypatch.setattr(auth, "_keys_of", no_lookup)
    basic = base64.b64encode(f"{user}:secret-key".encode()).decode()
    for headers in ({auth.USER_HEADER: user, auth.KEY_HEADER: "k"},
                    {"Authorization": f"Basic {basic}"}):
        headers[auth.EXTERNAL_APPLICATION_HEADER] = "tests;dev@example.com"
        with pytest.raises(auth.Unauthenticated):
            auth.authenticate(headers)
