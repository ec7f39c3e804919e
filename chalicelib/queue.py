"""The delivery queue (SQS): what the fan-out puts on it, and redeliveries."""
from __future__ import annotations

import json
from typing import Any

from chalicelib import aws, settings

BATCH = 10  # SendMessageBatch's limit


def send(messages: list[dict[str, Any]], delay_seconds: int = 0) -> list[int]:
    """Put messages on the queue, ten per call; return the indexes of those SQS refused."""
    failed: list[int] = []
    for start in range(0, len(messages), BATCH):
        chunk = messages[start:start + BATCH]
        entries = [{"Id": str(start + i), "MessageBody": json.dumps(m, separators=(",", ":")),
                    "DelaySeconds": delay_seconds} for i, m in enumerate(chunk)]
        try:
            response = aws.sqs().send_message_batch(
                QueueUrl=aws.queue_url(settings.get().delivery_queue_name), Entries=entries)
        except Exception:  # noqa: BLE001 - the whole chunk failed; the caller retries it
            failed += range(start, start + len(chunk))
            continue
        failed += [int(entry["Id"]) for entry in response.get("Failed", [])]
    return failed
