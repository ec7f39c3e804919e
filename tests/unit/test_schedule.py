"""The retry schedule, its jitter, and Retry-After."""
from __future__ import annotations

from email.utils import formatdate

import pytest

from chalicelib import settings
from chalicelib.delivery import schedule as retry

SCHEDULE = (5, 300, 1800, 7200, 18000, 36000, 36000)


def exact(low: float, high: float) -> float:
    return 1.0  # no jitter, to check the base delays


def test_the_default_schedule_is_svixs_and_spans_about_27_hours() -> None:
    assert settings.from_environ({}).retry_schedule == SCHEDULE
    assert 26 * 3600 < sum(SCHEDULE) < 28 * 3600
    assert [retry.next_delay(n, SCHEDULE, rand=exact) for n in range(1, 9)] == \
        [*SCHEDULE, None]


def test_jitter_stays_within_twenty_percent() -> None:
    assert retry.next_delay(2, SCHEDULE, rand=lambda lo, hi: lo) == 240
    assert retry.next_delay(2, SCHEDULE, rand=lambda lo, hi: hi) == 360
    delays = {retry.next_delay(2, SCHEDULE) for _ in range(200)}
    assert all(240 <= d <= 360 for d in delays if d is not None)
    assert len(delays) > 10  # it does vary


def test_n_delays_mean_n_plus_one_attempts() -> None:
    schedule = retry.parse_schedule("1, 2,3")
    assert schedule == (1, 2, 3)
    assert retry.next_delay(3, schedule, rand=exact) == 3
    assert retry.next_delay(4, schedule, rand=exact) is None


@pytest.mark.parametrize("value", ["", "a", "1,,2", "-1", "50000"])
def test_bad_schedules_are_refused(value: str) -> None:
    with pytest.raises(settings.SettingError):
        settings.from_environ({"WEBHOOKS_RETRY_SCHEDULE": value or ","})


def test_retry_after_in_seconds_or_as_a_date() -> None:
    assert retry.parse_retry_after("120", now=0) == 120
    assert retry.parse_retry_after(formatdate(1000 + 90, usegmt=True), now=1000) == 90
    assert retry.parse_retry_after(formatdate(500, usegmt=True), now=1000) == 0
    assert retry.parse_retry_after("soon", now=0) is None
    assert retry.parse_retry_after(None, now=0) is None


@pytest.mark.parametrize(("status", "retry_after", "expected"), [
    (429, 60, 60),      # longer than the schedule's 5 s: honoured
    (503, 60, 60),
    (429, 2, 5),        # shorter: the schedule wins
    (500, 60, 5),       # only 429 and 503 ask for patience
    (429, 99999, 3600),  # capped
    (429, None, 5),
])
def test_retry_after_is_honoured_on_429_and_503_up_to_the_cap(
        status: int, retry_after: float | None, expected: int) -> None:
    assert retry.next_delay(1, SCHEDULE, status_code=status, retry_after=retry_after,
                            retry_after_cap=3600, rand=exact) == expected


def test_no_delay_exceeds_what_sqs_allows() -> None:
    assert retry.next_delay(1, (43200,), rand=lambda lo, hi: hi) == retry.MAX_DELAY

