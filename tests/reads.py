"""Counting what DynamoDB reads (and bills) for the calls this process makes: the items
``ScannedCount`` says each Query or Scan read, and those each GetItem and BatchGetItem
returned. Used by tests that bound a read's cost and by ``make bench``."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any


class ItemsRead:
    """``with ItemsRead() as reads: ...``, then ``reads.items``."""

    def __enter__(self) -> ItemsRead:
        from chalicelib import aws

        self.items = 0
        self.client = aws.dynamodb()
        self.client.meta.events.register("after-call.dynamodb", self._count)
        return self

    def __exit__(self, *_: object) -> None:
        self.client.meta.events.unregister("after-call.dynamodb", self._count)

    def _count(self, parsed: dict[str, Any], model: Any, **_: Any) -> None:
        if model.name in ("Query", "Scan"):
            self.items += int(parsed.get("ScannedCount", 0))
        elif model.name == "GetItem":
            self.items += 1 if "Item" in parsed else 0
        elif model.name == "BatchGetItem":
            self.items += sum(len(v) for v in parsed.get("Responses", {}).values())


def items_read(action: Callable[[], Any]) -> int:
    """The items ``action`` made DynamoDB read."""
    with ItemsRead() as reads:
        action()
    return reads.items


class Calls:
    """``with Calls() as calls: ...``, then ``calls.made``: the DynamoDB and SQS calls this
    process made meanwhile, by operation (``Counter``)."""

    def __enter__(self) -> Calls:
        from collections import Counter

        from chalicelib import aws

        self.made: Counter[str] = Counter()
        self.clients = [aws.dynamodb(), aws.sqs()]
        for client in self.clients:
            client.meta.events.register("before-call", self._count)
        return self

    def __exit__(self, *_: object) -> None:
        for client in self.clients:
            client.meta.events.unregister("before-call", self._count)

    def _count(self, model: Any, **_: Any) -> None:
        self.made[model.name] += 1
