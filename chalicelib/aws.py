"""AWS clients, created lazily and once per process (once per Lambda container).

boto3 honours ``AWS_ENDPOINT_URL``, which is how the local stack points every client at its
embedded moto server without the code knowing.
"""
from __future__ import annotations

import random
import threading
import time
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
    with _blocks_lock:
        _blocks.clear()


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


def update_if(**kwargs: Any) -> dict[str, Any] | None:
    """``UpdateItem`` with a ``ConditionExpression``: its response, or None when the
    condition did not hold (which writes nothing); every other error is raised. A write
    to an item that a transaction is writing at that moment is refused by DynamoDB with
    ``TransactionConflictException`` (which botocore does not retry, and moto never
    answers): it is tried again after a short jittered pause, a few times."""
    for attempt in range(CONFLICT_TRIES):
        try:
            return dict(dynamodb().update_item(**kwargs))
        except Exception as exc:
            code = error_code(exc)
            if code == "ConditionalCheckFailedException":
                return None
            if code != "TransactionConflictException" or attempt + 1 == CONFLICT_TRIES:
                raise
            time.sleep(backoff_delay(attempt, base=0.02, cap=0.5))
    raise AssertionError("unreachable")


CONFLICT_TRIES = 4


TRANSACTION_TRIES = 8


class Cancelled(Exception):
    """A transaction failed one of its conditions; ``reasons`` per item, in order."""

    def __init__(self, reasons: list[str]) -> None:
        super().__init__(reasons)
        self.reasons = reasons


def transact(items: list[dict[str, Any]], busy: str) -> None:
    """Run a write transaction; retry DynamoDB's transient cancellations (another
    transaction on one of the items) with jittered backoff, then answer 503 ``busy``.
    A failed condition raises ``Cancelled`` at once."""
    from chalicelib.errors import ServiceUnavailable

    for attempt in range(TRANSACTION_TRIES):
        try:
            dynamodb().transact_write_items(TransactItems=items)
            return
        except Exception as exc:
            if error_code(exc) != "TransactionCanceledException":
                raise
            reasons = [r.get("Code", "None") for r in
                       getattr(exc, "response", {}).get("CancellationReasons", [])]
            if "ConditionalCheckFailed" in reasons:
                raise Cancelled(reasons) from None
            if attempt + 1 < TRANSACTION_TRIES:
                time.sleep(backoff_delay(attempt, base=0.02, cap=1.0))
    raise ServiceUnavailable(busy)


#: DynamoDB's limit on the actions of one transaction.
TRANSACTION_ITEMS = 100
#: Transactions tried for one set of groups before the rest is given up (None).
GROUP_TRIES = 3
#: Cancellation reasons of an action that may go through when tried again.
_PASSING = frozenset({"None", "TransactionConflict", "ThrottlingError",
                      "ProvisionedThroughputExceeded", "RequestLimitExceeded"})


def transact_groups(groups: list[list[dict[str, Any]]]) -> list[bool | None]:
    """Write many independent groups of actions with as few calls as DynamoDB allows: all
    the groups in one ``TransactWriteItems`` (or one per 100 actions), each group written
    whole or not at all. Per group: True when written, False when one of its conditions
    failed (nothing of it is written), None when it could not be written for another
    reason (transactions that kept conflicting: the caller may write it another way).
    Any other error (throttling beyond the client's retries, a lost connection) is raised.

    A transaction is all or nothing, so when DynamoDB cancels one, the groups that failed
    a condition are left out (its cancellation reasons say which) and the others are tried
    again, up to ``GROUP_TRIES`` transactions, with jittered backoff between retries of
    the same groups. The caller must not put two actions on one item in the groups."""
    outcome: list[bool | None] = [None] * len(groups)
    chunk: list[int] = []
    chunks: list[list[int]] = []
    size = 0
    for index, group in enumerate(groups):
        if chunk and size + len(group) > TRANSACTION_ITEMS:
            chunks.append(chunk)
            chunk, size = [], 0
        chunk.append(index)
        size += len(group)
    if chunk:
        chunks.append(chunk)
    for pending in chunks:
        for attempt in range(GROUP_TRIES):
            if not pending:
                break
            items = [action for index in pending for action in groups[index]]
            try:
                dynamodb().transact_write_items(TransactItems=items)
            except Exception as exc:
                if error_code(exc) != "TransactionCanceledException":
                    raise
                reasons = [str(r.get("Code", "None")) for r in
                           getattr(exc, "response", {}).get("CancellationReasons", [])]
                failed = set()
                position = 0
                for index in pending:
                    codes = set(reasons[position:position + len(groups[index])])
                    position += len(groups[index])
                    if "ConditionalCheckFailed" in codes:
                        outcome[index] = False
                        failed.add(index)
                    elif codes - _PASSING:  # one it can never win (a validation error…)
                        failed.add(index)  # None: the caller writes it another way
                if not failed and attempt + 1 < GROUP_TRIES:
                    time.sleep(backoff_delay(attempt, base=0.02, cap=0.5))
                pending = [index for index in pending if index not in failed]
                continue
            for index in pending:
                outcome[index] = True
            break
    return outcome


def backoff_delay(attempt: int, base: float = 0.05, cap: float = 2.0,
                  rng: random.Random | None = None) -> float:
    """Seconds to wait before asking again for what DynamoDB left unprocessed (it does
    so when it throttles): "full jitter", uniform in [0, min(cap, base * 2**attempt)]."""
    return (rng or random).uniform(0, min(cap, base * 2 ** attempt))


def batch_get(table: str, keys: list[dict[str, Any]],
              projection: str | None = None) -> list[dict[str, Any]]:
    """Items by key, consistently read: one BatchGetItem per 100 keys; unprocessed keys
    asked for again after a jittered, growing pause. Missing items are absent from the
    result."""
    items: list[dict[str, Any]] = []
    for start in range(0, len(keys), 100):
        request: dict[str, Any] = {table: {"Keys": keys[start:start + 100],
                                           "ConsistentRead": True}}
        if projection:
            request[table]["ProjectionExpression"] = projection
        attempt = 0
        while request:
            if attempt:
                time.sleep(backoff_delay(attempt))
            response = dynamodb().batch_get_item(RequestItems=request)
            items += response["Responses"].get(table, [])
            request = response.get("UnprocessedKeys") or {}
            attempt += 1
    return items


# Ids handed out from blocks taken by this container: counter -> (next id, end of block).
_blocks: dict[str, tuple[int, int]] = {}
_blocks_lock = threading.Lock()


def next_id(counter: str, block: int = 1) -> int:
    """Allocate the next integer id of a counter atomically.

    With ``block`` > 1 the container takes that many ids with one write and hands them
    out itself: one counter item then takes one write per ``block`` ids (DynamoDB caps an
    item at about 1,000 writes a second, which a single per-type counter of the whole
    service would hit). Ids stay unique integers; across containers they are no longer in
    creation order, and a container that ends leaves the rest of its block unused."""
    with _blocks_lock:
        first, end = _blocks.get(counter, (0, 0))
        if first < end:
            _blocks[counter] = (first + 1, end)
            return first
    response = dynamodb().update_item(
        TableName=table_name("counters"),
        Key={"name": {"S": counter}},
        UpdateExpression="ADD #v :n",
        ExpressionAttributeNames={"#v": "value"},
        ExpressionAttributeValues={":n": {"N": str(block)}},
        ReturnValues="UPDATED_NEW",
    )
    last = int(response["Attributes"]["value"]["N"])
    first = last - block + 1
    if block > 1:
        with _blocks_lock:
            _blocks[counter] = (first + 1, last + 1)
    return first
