"""Time, in one place, so that tests can reason about it and formats stay consistent."""
from __future__ import annotations

import time
from datetime import UTC, datetime


def now() -> float:
    """Seconds since the epoch."""
    return time.time()


def iso(epoch_seconds: float) -> str:
    """ISO 8601 in UTC with a ``Z``, to the second, as Clockodo writes times."""
    return format_utc(datetime.fromtimestamp(epoch_seconds, tz=UTC))


def format_utc(moment: datetime) -> str:
    """``YYYY-MM-DDTHH:MM:SSZ`` of an aware datetime, always with four digits of year
    (``strftime("%Y")`` writes the year 999 as ``999``), so that the strings sort as the
    times do. The range is that of ``datetime``: years 0001 to 9999."""
    utc = moment.astimezone(UTC)
    return f"{utc.year:04d}-{utc.month:02d}-{utc.day:02d}T" \
        f"{utc.hour:02d}:{utc.minute:02d}:{utc.second:02d}Z"


def parse_iso(value: str) -> datetime:
    """An ISO 8601 date and time with a zone (``Z`` or an offset), in UTC; ValueError for
    anything else, including a time whose UTC form falls outside the calendar."""
    # RFC 3339 allows a lower-case "t" and "z"
    parsed = datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        raise ValueError(f"{value!r} has no time zone")
    try:
        return parsed.astimezone(UTC)
    except OverflowError:  # year 1 at +14:00 is before year 1 in UTC
        raise ValueError(f"{value!r} is out of range") from None


def now_iso() -> str:
    """The current time as ISO 8601 UTC."""
    return iso(now())
