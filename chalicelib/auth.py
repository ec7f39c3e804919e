"""API users, API keys and authenticating a request the Clockodo way.

A key is 128 random bits, shown once when issued and stored only as its SHA-256 hash
(a slow KDF buys nothing for keys this random). Credentials arrive as the headers
``X-ClockodoApiUser`` + ``X-ClockodoApiKey`` or as HTTP Basic ``email:apikey``; every
request also names its application in ``X-Clockodo-External-Application``.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from chalicelib import aws, clock, companies
from chalicelib.companies import Company
from chalicelib.errors import BadRequest, Conflict, NotFound, Unauthenticated, Unprocessable

EXTERNAL_APPLICATION_HEADER = "X-Clockodo-External-Application"
USER_HEADER = "X-ClockodoApiUser"
KEY_HEADER = "X-ClockodoApiKey"
MAX_USER_LENGTH = 254

# Hashed even when nobody matches, so that an unknown user costs what a known one does.
_NO_MATCH = hashlib.sha256(b"no api key").hexdigest()


@dataclass(frozen=True)
class Caller:
    """Who is calling: the API user and the company every request is scoped to."""

    api_user: str
    company: Company


@dataclass(frozen=True)
class IssuedKey:
    api_user: str
    key_id: str
    api_key: str  # the plain key: returned once, never stored
    company_id: int


def hash_key(api_key: str) -> str:
    return hashlib.sha256(api_key.encode("utf-8")).hexdigest()


def normalize_user(api_user: str) -> str:
    return api_user.strip().lower()


def credentials(headers: Mapping[str, str]) -> tuple[str, str] | None:
    """The (api user, api key) a request carries, or None when it carries none."""
    user, key = headers.get(USER_HEADER), headers.get(KEY_HEADER)
    if user and key:
        return normalize_user(user), key.strip()
    authorization = headers.get("Authorization", "")
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() != "basic" or not value:
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, sep, key = decoded.partition(":")
    if not sep or not user or not key:
        return None
    return normalize_user(user), key


def authenticate(headers: Mapping[str, str]) -> Caller:
    """The caller of a request, or raise 400 (no application header) / 401."""
    if not headers.get(EXTERNAL_APPLICATION_HEADER, "").strip():
        raise BadRequest(
            f"the header {EXTERNAL_APPLICATION_HEADER} is required: "
            '"<application name>;<contact e-mail>"',
            path=EXTERNAL_APPLICATION_HEADER,
            type="MissingExternalApplication",
        )
    found = credentials(headers)
    if found is None:
        raise Unauthenticated(
            f"send {USER_HEADER} and {KEY_HEADER}, or HTTP Basic e-mail:apikey",
            path="Authorization",
        )
    api_user, api_key = found
    # empty (only whitespace before normalising) or longer than any e-mail: no DynamoDB key
    if not api_user or len(api_user) > MAX_USER_LENGTH:
        raise Unauthenticated("wrong API user or API key", path="Authorization")
    offered = hash_key(api_key)
    company_id = None
    for item in _keys_of(api_user) or [{"key_hash": _NO_MATCH, "company_id": 0}]:
        if hmac.compare_digest(offered, item["key_hash"]):
            company_id = item["company_id"]
    company = companies.get(company_id) if company_id is not None else None
    if company is None:
        raise Unauthenticated("wrong API user or API key", path="Authorization")
    return Caller(api_user, company)


def _keys_of(api_user: str) -> list[dict[str, Any]]:
    response = aws.dynamodb().query(
        TableName=aws.table_name("api_keys"),
        KeyConditionExpression="api_user = :u",
        ExpressionAttributeValues={":u": {"S": api_user}},
    )
    return [aws.from_attributes(item) for item in response.get("Items", [])]


def issuable(company_id: int, api_user: str) -> str:
    """The normalized API user, if the company exists and may have a key for it: an
    e-mail belongs to one company only."""
    api_user = normalize_user(api_user)
    if "@" not in api_user or len(api_user) > MAX_USER_LENGTH or \
            any(c.isspace() for c in api_user):
        raise Unprocessable(f"{api_user!r} is not an e-mail address", path="email")
    if companies.get(company_id) is None:
        raise NotFound(f"no company {company_id}")
    if any(item["company_id"] != company_id for item in _keys_of(api_user)):
        raise Conflict(f"{api_user} belongs to another company", type="EmailNotAvailable")
    return api_user


def issue_key(company_id: int, api_user: str) -> IssuedKey:
    """Create a new API key for ``api_user`` (an e-mail) of the company."""
    api_user = issuable(company_id, api_user)
    issued = IssuedKey(api_user, "k" + secrets.token_hex(6), secrets.token_hex(16), company_id)
    aws.dynamodb().put_item(
        TableName=aws.table_name("api_keys"),
        Item=aws.to_attributes({
            "api_user": issued.api_user,
            "key_id": issued.key_id,
            "key_hash": hash_key(issued.api_key),
            "company_id": company_id,
            "created_at": clock.now_iso(),
        }),
    )
    return issued


def keys_in(company_id: int, api_user: str) -> list[dict[str, Any]]:
    """The keys of an API user (an e-mail, in any case) in one company, hashes included."""
    return [item for item in _keys_of(normalize_user(api_user))
            if item["company_id"] == company_id]


def revocation(key: dict[str, Any]) -> dict[str, Any]:
    """The ``TransactWriteItems`` entry that revokes a key (from ``keys_in``); the
    transaction fails if the key is gone meanwhile."""
    return {"Delete": {
        "TableName": aws.table_name("api_keys"),
        "Key": {"api_user": {"S": key["api_user"]}, "key_id": {"S": key["key_id"]}},
        "ConditionExpression": "attribute_exists(key_id)",
    }}


def list_keys(api_user: str) -> list[dict[str, Any]]:
    """The keys of an API user, without their hashes."""
    return [
        {k: v for k, v in item.items() if k != "key_hash"}
        for item in _keys_of(normalize_user(api_user))
    ]


def revoke_key(api_user: str, key_id: str) -> None:
    """Revoke one key: it stops working at once."""
    try:
        aws.dynamodb().delete_item(
            TableName=aws.table_name("api_keys"),
            Key={"api_user": {"S": normalize_user(api_user)}, "key_id": {"S": key_id}},
            ConditionExpression="attribute_exists(key_id)",
        )
    except Exception as exc:
        if aws.error_code(exc) == "ConditionalCheckFailedException":
            raise NotFound(f"no key {key_id} for {api_user}") from None
        raise
