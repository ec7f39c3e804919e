"""Time, in one place, so that tests can reason about it and formats stay consistent."""
from __future__ import annotations

import time
from datetime import UTC, datetime


def now() -> float:
    """Seconds since the epoch."""
    return time.time()


def iso(epoch_seconds: float) -> str:
    """ISO 8601 in UTC with a ``Z``, to the second, as Clockodo writes times."""
    return datetime.fromtimestamp(epoch_seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def now_iso() -> str:
    """The current time as ISO 8601 UTC."""
    return iso(now())
