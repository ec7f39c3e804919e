"""Budget usage and thresholds, the pure part (chalicelib/budgets.py)."""
from __future__ import annotations

from chalicelib import budgets
from chalicelib.budgets import Usage

TIME = {"type": 1, "duration": 5400, "hourly_rate": 80, "projects_id": 7}


def test_what_entries_use() -> None:
    assert budgets.entry_usage(TIME) == Usage(hours=1.5, money=120)
    assert budgets.entry_usage({**TIME, "duration": None}) == Usage()  # running
    assert budgets.entry_usage({"type": 2, "lumpsum": 99.5}) == Usage(money=99.5)
    assert budgets.entry_usage({"type": 3, "lumpsum_services_amount": 3}, 20) == \
        Usage(money=60)
    assert budgets.entry_usage(None) == Usage()


def test_deltas_follow_moves_between_projects_and_subprojects() -> None:
    moved = {**TIME, "projects_id": 8, "subprojects_id": 3}
    old, new = budgets.entry_usage(TIME), budgets.entry_usage(moved)
    assert budgets.deltas(TIME, moved, old, new) == {
        ("project", 7): Usage(hours=-1.5, money=-120), ("project", 8): Usage(1.5, 120),
        ("subproject", 3): Usage(1.5, 120)}
    assert budgets.deltas(TIME, TIME, old, old) == {}  # nothing changed: no write
    assert budgets.deltas(None, TIME, Usage(), old) == {("project", 7): old}
    assert budgets.deltas(TIME, None, old, Usage()) == {("project", 7): Usage() - old}


def test_thresholds_reached_highest_first() -> None:
    budget = {"amount": 10, "monetary": False, "notification_thresholds": [50, 80, 100]}
    assert budgets.crossed(budget, Usage(hours=4.9)) == []
    assert budgets.crossed(budget, Usage(hours=5)) == [50]
    assert budgets.crossed(budget, Usage(hours=9, money=10**6)) == [80, 50]
    assert budgets.crossed({**budget, "monetary": True}, Usage(hours=9, money=10)) == [100,
                                                                                        80, 50]
    assert budgets.crossed(None, Usage(hours=100)) == []
    assert budgets.crossed({**budget, "notification_thresholds": []}, Usage(hours=100)) == []


def test_a_new_amount_or_unit_is_a_new_budget() -> None:
    budget = {"amount": 10, "monetary": False, "notification_thresholds": [50]}
    assert budgets.budget_key(budget) == budgets.budget_key(
        {**budget, "notification_thresholds": [50, 80], "hard": True})
    assert budgets.budget_key(budget) != budgets.budget_key({**budget, "amount": 20})
    assert budgets.budget_key(budget) != budgets.budget_key({**budget, "monetary": True})


def test_the_payload_is_clockodos() -> None:
    assert budgets.payload(("subproject", 4), 90) == \
        {"id": 4, "type": "subprojectBudget", "threshold": 90}
