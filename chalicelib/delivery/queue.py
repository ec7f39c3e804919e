"""The delivery queues (SQS): the fan-out and redeliveries put messages on the main one;
the delivery worker moves those of failing endpoints to the slow lane."""
from __future__ import annotations

import json
from typing import Any

from chalicelib import aws, settings

BATCH = 10  # SendMessageBatch's limit


def send(messages: list[dict[str, Any]], queue_name: str | None = None) -> list[int]:
    """Put messages on the delivery queue (or ``queue_name``), ten per call; return the
    indexes of those SQS refused."""
    url = aws.queue_url(queue_name or settings.get().delivery_queue_name)
    failed: list[int] = []
    for start in range(0, len(messages), BATCH):
        chunk = messages[start:start + BATCH]
        entries = [{"Id": str(start + i), "MessageBody": json.dumps(m, separators=(",", ":"))}
                   for i, m in enumerate(chunk)]
        try:
            response = aws.sqs().send_message_batch(QueueUrl=url, Entries=entries)
        except Exception:  # noqa: BLE001 - the whole chunk failed; the caller retries it
            failed += range(start, start + len(chunk))
            continue
        failed += [int(entry["Id"]) for entry in response.get("Failed", [])]
    return failed
