"""Endpoint health bookkeeping: how often it is written, and how a disabling reads."""
from __future__ import annotations

from chalicelib.delivery.worker import _duration, _Throttle


def test_success_health_writes_are_throttled_per_webhook() -> None:
    throttle = _Throttle(60)
    assert throttle.due((1, 1), 1000)
    assert not throttle.due((1, 1), 1059)
    assert throttle.due((1, 2), 1059)  # another webhook
    assert throttle.due((1, 1), 1060)


def test_the_disabling_reason_names_the_period_readably() -> None:
    assert _duration(432000) == "5 days"
    assert _duration(7200) == "2 hours"
    assert _duration(90) == "90 seconds"
