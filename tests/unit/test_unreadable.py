"""Unreadable stream records kept whole in failure-queue messages, in parts when large."""
from __future__ import annotations

import json
from typing import Any

from chalicelib.delivery import queue, unreadable


def record(sequence: str, text: str) -> dict[str, Any]:
    return {"eventID": f"e{sequence}", "eventName": "MODIFY",
            "dynamodb": {"SequenceNumber": sequence,
                         "NewImage": {"note": {"S": text}}, "OldImage": {"note": {"S": text}}}}


def test_a_record_that_fits_is_one_message_as_before() -> None:
    small = record("100", "short")
    (body,) = unreadable.bodies(small, "KeyError: 'company_id'")
    assert json.loads(body) == {"reason": "cannot derive events",
                                "error": "KeyError: 'company_id'", "record": small}


def test_a_record_larger_than_a_message_is_kept_in_parts_that_each_fit() -> None:
    # the worst case for escaping: quotes and backslashes double when encoded again;
    # and text outside ASCII
    large = record("200", '"\\' * 150_000 + "Überstunden ✓" * 10_000)
    parts = unreadable.bodies(large, "ValueError")
    assert len(parts) > 2
    assert all(len(p.encode("utf-8")) <= queue.MAX_MESSAGE_BYTES for p in parts)
    # put together again, whatever order they are read in, beside a small one and a
    # range the stream mapping gave up on
    small = record("100", "short")
    texts = [*reversed(parts), *unreadable.bodies(small, "x"),
             json.dumps({"shard": "s-1", "startSequenceNumber": "7"})]
    records, notes = unreadable.records(texts + texts[:1])  # a copy of one part, too
    assert records == [small, large]  # whole, once each, in stream order
    assert notes == [{"shard": "s-1", "startSequenceNumber": "7"}]


def test_a_record_with_a_part_missing_is_named_not_guessed() -> None:
    parts = unreadable.bodies(record("300", "x" * 400_000), "ValueError")
    records, notes = unreadable.records(parts[1:])
    assert records == []
    assert notes == [{"incomplete": "e300", "parts_found": len(parts) - 1,
                      "parts": len(parts)}]
