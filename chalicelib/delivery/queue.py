"""The delivery queues (SQS) and the messages they carry.

The fan-out, redeliveries and test events put messages on the main queue; the worker
moves those of failing endpoints to the slow lane, and puts a message back, delayed, for
every retry and every wait (``DelaySeconds``, at most 15 minutes a hop): a delivery that
waits is a *delayed* message, never an in-flight one.

A message is versioned (``v``). Readers take the fields they know and ignore the others,
so that a rolling deploy that adds a field loses nothing; a message missing a field
this version needs cannot be delivered and goes to the dead-letter queue whole.
"""
from __future__ import annotations

import json
from typing import Any

from chalicelib import aws, settings

BATCH = 10  # SendMessageBatch's limit
MAX_DELAY = 900  # DelaySeconds' limit: a longer wait takes several hops
#: The most one message may hold (the queues' MaximumMessageSize, SQS's default), and the
#: most one SendMessageBatch call sends in all.
MAX_MESSAGE_BYTES = 256 * 1024
VERSION = 2

#: The fields every version has had, and their types.
REQUIRED: dict[str, type | tuple[type, ...]] = {
    "delivery_id": str, "company_id": int, "webhook_id": int, "event_name": str,
    "resource_type": str, "resource_id": int, "occurred_at": str, "trigger": str}
#: Fields of version 2, with their defaults for older messages.
OPTIONAL: dict[str, Any] = {
    "v": 1,
    "attempt": 1,  # the automatic attempt this message carries
    "due_at": 0,  # epoch seconds it is due (0: now)
    "request_id": None,  # a manual request's id: it is attempted once
    "payload": None,  # the notification's payload when not {<type>: {"id"}} (budgets)
}


def parse(body: str) -> dict[str, Any] | None:
    """The message in a queue body, with only the fields this version knows; None when it
    lacks one it needs (or is not a message at all)."""
    try:
        raw = json.loads(body)
    except (TypeError, ValueError):
        return None
    if not isinstance(raw, dict):
        return None
    message: dict[str, Any] = {}
    for name, kind in REQUIRED.items():
        value = raw.get(name)
        if not isinstance(value, kind) or isinstance(value, bool):
            return None
        message[name] = value
    for name, default in OPTIONAL.items():
        value = raw.get(name, default)
        message[name] = value if isinstance(value, type(default)) or default is None \
            else default
    if not isinstance(message["payload"], dict):
        message["payload"] = None
    if not isinstance(message["attempt"], int) or message["attempt"] < 1:
        message["attempt"] = 1
    return message


def encode(message: dict[str, Any]) -> str:
    return json.dumps({**message, "v": VERSION}, separators=(",", ":"))


def send(messages: list[dict[str, Any]], queue_name: str | None = None,
         delays: list[int] | None = None) -> list[int]:
    """Put messages on the delivery queue (or ``queue_name``), ten per call, each delayed
    by ``delays[i]`` seconds (at most 15 minutes); return the indexes of those SQS
    refused."""
    return send_bodies([encode(m) for m in messages], queue_name, delays)


def send_bodies(bodies: list[str], queue_name: str | None = None,
                delays: list[int] | None = None) -> list[int]:
    """``send`` for bodies as they are (the dead-letter queue keeps unreadable ones whole),
    ten per call and at most ``MAX_MESSAGE_BYTES`` per call; a body larger than that is
    refused without a call."""
    if not bodies:
        return []
    url = aws.queue_url(queue_name or settings.get().delivery_queue_name)
    failed: list[int] = []
    for chunk in _chunks(bodies, failed):
        entries = []
        for index in chunk:
            entry: dict[str, Any] = {"Id": str(index), "MessageBody": bodies[index]}
            if delays is not None and delays[index] > 0:
                entry["DelaySeconds"] = min(MAX_DELAY, delays[index])
            entries.append(entry)
        try:
            response = aws.sqs().send_message_batch(QueueUrl=url, Entries=entries)
        except Exception:  # noqa: BLE001 - the whole chunk failed; the caller retries it
            failed += chunk
            continue
        failed += [int(entry["Id"]) for entry in response.get("Failed", [])]
    return sorted(failed)


def _chunks(bodies: list[str], too_large: list[int]) -> list[list[int]]:
    """The bodies' indexes in calls of at most ten and ``MAX_MESSAGE_BYTES``; the indexes
    of bodies that fit in no call are added to ``too_large``."""
    chunks: list[list[int]] = []
    chunk: list[int] = []
    size = 0
    for index, body in enumerate(bodies):
        length = len(body.encode("utf-8"))
        if length > MAX_MESSAGE_BYTES:
            too_large.append(index)
            continue
        if chunk and (len(chunk) == BATCH or size + length > MAX_MESSAGE_BYTES):
            chunks.append(chunk)
            chunk, size = [], 0
        chunk.append(index)
        size += length
    if chunk:
        chunks.append(chunk)
    return chunks
