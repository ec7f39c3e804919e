"""AWS clients, created lazily and once per process (once per Lambda container).

boto3 honours ``AWS_ENDPOINT_URL``, which is how the local stack points every client at its
embedded moto server without the code knowing.
"""
from __future__ import annotations

import threading
from functools import cache
from typing import Any

from chalicelib import settings

client_lock = threading.Lock()


@cache
def session() -> Any:
    import boto3  # deferred: keeps `import app` light for handlers that never touch AWS

    return boto3.session.Session()


def client_config() -> Any:
    from botocore.config import Config

    # moto does not know the account-based DynamoDB endpoints that current botocore
    # prefers (delivery.md); real DynamoDB serves both, so one setting fits both.
    return Config(
        account_id_endpoint_mode="disabled",
        retries={"mode": "standard", "max_attempts": 3},
        max_pool_connections=20,
        connect_timeout=3,
        read_timeout=10,
    )


@cache
def dynamodb() -> Any:
    """The low-level DynamoDB client."""
    with client_lock:  # creating clients is not thread-safe; the local server is threaded
        return session().client("dynamodb", config=client_config())


@cache
def sqs() -> Any:
    """The SQS client."""
    with client_lock:
        return session().client("sqs", config=client_config())


def queue_url(name: str) -> str:
    """A queue's URL, looked up once per container (on Lambda, each function has its own
    containers; the local stack runs them all in one process, so the cache is per
    function there too, and each function makes the calls it makes on AWS)."""
    from chalicelib.observability import current_function

    return _queue_url(name, current_function())


@cache
def _queue_url(name: str, function: str | None) -> str:
    return str(sqs().get_queue_url(QueueName=name)["QueueUrl"])


def table_name(name: str) -> str:
    """The full name of one of the service's tables (prefix from the settings)."""
    return settings.get().table(name)


def reset() -> None:
    """Forget cached clients and settings (tests that switch backends call this)."""
    session.cache_clear()
    dynamodb.cache_clear()
    settings.get.cache_clear()
    sqs.cache_clear()
    _queue_url.cache_clear()


def to_attributes(values: dict[str, Any]) -> dict[str, Any]:
    """Plain Python values (str, int, bool, None, dict, list) as DynamoDB attribute values."""
    from boto3.dynamodb.types import TypeSerializer

    serializer = TypeSerializer()
    return {k: serializer.serialize(_storable(v)) for k, v in values.items()}


def _storable(value: Any) -> Any:
    """DynamoDB numbers are decimals: floats go in through their shortest repr."""
    from decimal import Decimal

    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, dict):
        return {k: _storable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_storable(v) for v in value]
    return value


def from_attributes(item: dict[str, Any]) -> dict[str, Any]:
    """A DynamoDB item as plain Python values; whole numbers become ``int``."""
    from boto3.dynamodb.types import TypeDeserializer

    deserializer = TypeDeserializer()
    return {k: _plain(deserializer.deserialize(v)) for k, v in item.items()}


def _plain(value: Any) -> Any:
    from decimal import Decimal

    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, set)):
        return [_plain(v) for v in value]
    return value


def error_code(exc: Exception) -> str:
    """The AWS error code of a botocore ``ClientError`` ("" for anything else)."""
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


def batch_get(table: str, keys: list[dict[str, Any]],
              projection: str | None = None) -> list[dict[str, Any]]:
    """Items by key, consistently read: one BatchGetItem per 100 keys, unprocessed keys
    asked for again. Missing items are absent from the result."""
    items: list[dict[str, Any]] = []
    for start in range(0, len(keys), 100):
        request: dict[str, Any] = {table: {"Keys": keys[start:start + 100],
                                           "ConsistentRead": True}}
        if projection:
            request[table]["ProjectionExpression"] = projection
        while request:
            response = dynamodb().batch_get_item(RequestItems=request)
            items += response["Responses"].get(table, [])
            request = response.get("UnprocessedKeys") or {}
    return items


def next_id(counter: str) -> int:
    """Allocate the next integer id of a counter (company ids, webhook ids) atomically."""
    response = dynamodb().update_item(
        TableName=table_name("counters"),
        Key={"name": {"S": counter}},
        UpdateExpression="ADD #v :one",
        ExpressionAttributeNames={"#v": "value"},
        ExpressionAttributeValues={":one": {"N": "1"}},
        ReturnValues="UPDATED_NEW",
    )
    return int(response["Attributes"]["value"]["N"])
