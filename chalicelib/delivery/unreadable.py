"""Stream records the fan-out cannot read, kept whole on its failure queue for replay.

A record the fan-out cannot derive events from must not block its shard for ever, nor be
lost: it goes, whole, to the fan-out's failure queue (the queue the stream mapping also
reports abandoned ranges to), where an operator finds it once the ``FanOutFailures``
alarm fires, and replays it when the cause is fixed (README: runbook;
``python -m chalicelib.admin kept-changes``).

An SQS message holds at most ``queue.MAX_MESSAGE_BYTES``; a stream record with both
images of a large item can be several times that. Such a record is kept in *parts*: its
JSON text cut into slices, each in a message that names the record and the part, which
``records`` puts together again. Pure: no AWS calls here.
"""
from __future__ import annotations

import json
from typing import Any

from chalicelib.delivery import queue

REASON = "cannot derive events"
#: Characters of a record's JSON text in one part: its text is ASCII, and escaping it
#: again (quotes, backslashes) at most doubles it, so a part stays within a message.
PART_CHARS = (queue.MAX_MESSAGE_BYTES - 4096) // 2


def bodies(record: dict[str, Any], error: str) -> list[str]:
    """The failure-queue message bodies that keep ``record`` whole: one
    ``{"reason", "error", "record"}`` when it fits in a message, else its parts."""
    whole = json.dumps({"reason": REASON, "error": error, "record": record}, default=str)
    if len(whole.encode("utf-8")) <= queue.MAX_MESSAGE_BYTES:
        return [whole]
    text = json.dumps(record, default=str)  # ASCII: json escapes everything else
    slices = [text[start:start + PART_CHARS] for start in range(0, len(text), PART_CHARS)]
    dynamodb = record.get("dynamodb", {})
    return [json.dumps({"reason": REASON, "error": error, "event_id": record.get("eventID"),
                        "sequence_number": dynamodb.get("SequenceNumber"),
                        "part": number, "parts": len(slices), "record_part": piece})
            for number, piece in enumerate(slices, start=1)]


def records(texts: list[str]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The kept records in failure-queue bodies, whole again, in stream order (copies
    once), and a note on every other body: a range the stream mapping gave up on, a
    record whose parts are not all there, a body that is no JSON."""
    kept: dict[str, dict[str, Any]] = {}
    parts: dict[tuple[str, int], dict[int, str]] = {}
    notes: list[dict[str, Any]] = []
    for text in texts:
        try:
            body = json.loads(text)
        except ValueError:
            notes.append({"unreadable_body": text[:2000]})
            continue
        if not isinstance(body, dict):
            notes.append({"unreadable_body": text[:2000]})
        elif isinstance(body.get("record"), dict):
            kept[_identity(body["record"])] = body["record"]
        elif "record_part" in body:
            parts.setdefault((str(body["event_id"]), int(body["parts"])), {})[
                int(body["part"])] = str(body["record_part"])
        else:
            notes.append(body)  # the stream mapping's report of a range it gave up on
    for (event_id, count), found in parts.items():
        if set(found) != set(range(1, count + 1)):
            notes.append({"incomplete": event_id, "parts_found": len(found), "parts": count})
            continue
        record = json.loads("".join(found[number] for number in range(1, count + 1)))
        kept[_identity(record)] = record
    return sorted(kept.values(), key=_sequence), notes


def _sequence(record: dict[str, Any]) -> int:
    number = str(record.get("dynamodb", {}).get("SequenceNumber", ""))
    return int(number) if number.isdigit() else 0


def _identity(record: dict[str, Any]) -> str:
    return str(record.get("eventID") or json.dumps(record, sort_keys=True, default=str))
