"""When to try a failed delivery again: the retry schedule, jitter and Retry-After.

Pure logic. The default schedule is Svix's: after a failed attempt, wait 5 s, 5 min,
30 min, 2 h, 5 h, 10 h, 10 h (about 27 h in all), each ±20 %. ``WEBHOOKS_RETRY_SCHEDULE``
replaces it: N delays mean at most N + 1 attempts. A receiver answering 429 or 503 with a
``Retry-After`` longer than the scheduled delay gets its wish, up to a cap.
"""
from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from datetime import UTC
from email.utils import parsedate_to_datetime

JITTER = 0.2
#: SQS can hide a message for at most 12 hours (ChangeMessageVisibility).
MAX_DELAY = 12 * 3600


def parse_schedule(value: str) -> tuple[int, ...]:
    """``"5,300,1800"`` → (5, 300, 1800); every delay a whole number of seconds ≥ 0."""
    delays = []
    for part in value.split(","):
        part = part.strip()
        if not part.isdigit() or int(part) > MAX_DELAY:
            raise ValueError(f"WEBHOOKS_RETRY_SCHEDULE: {part!r} is not 0 to {MAX_DELAY} s")
        delays.append(int(part))
    return tuple(delays)


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds a ``Retry-After`` header asks for (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - now)


def next_delay(attempt: int, schedule: Sequence[int], *, status_code: int | None = None,
               retry_after: float | None = None, retry_after_cap: float = 3600,
               rand: Callable[[float, float], float] = random.uniform) -> int | None:
    """Seconds to wait after failed attempt number ``attempt`` (1-based), or None when it
    was the last one."""
    if attempt > len(schedule):
        return None
    base = schedule[attempt - 1]
    delay = base * rand(1 - JITTER, 1 + JITTER)
    if status_code in (429, 503) and retry_after is not None:
        delay = max(delay, min(retry_after, retry_after_cap))
    return min(MAX_DELAY, max(0, round(delay)))
