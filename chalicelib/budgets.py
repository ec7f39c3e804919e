"""Budget notifications, the pure part: what an entry uses of its budgets, and which
threshold a budget's usage has crossed.

Clockodo (``project.budget_notification``): a project or subproject with a budget and
``notification_thresholds`` (percentages) raises the event once for the highest threshold
that its usage newly exceeds, with the payload ``{"id", "type": "projectBudget" |
"subprojectBudget", "threshold"}``. Usage is hours (time entries' durations) or, for a
``monetary`` budget, money (hours at the entry's ``hourly_rate``, plus lump sums). A
project's budget counts its subprojects' entries too.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from chalicelib.resources import ENTRY_LUMPSUM_SERVICE, ENTRY_LUMPSUM_VALUE, ENTRY_TIME

Item = Mapping[str, Any]
#: A budget's owner: ("project" | "subproject", id).
Target = tuple[str, int]
PAYLOAD_TYPES = {"project": "projectBudget", "subproject": "subprojectBudget"}


@dataclass(frozen=True)
class Usage:
    """Hours and money used of a budget (either may be negative as a delta)."""

    hours: float = 0.0
    money: float = 0.0

    def __add__(self, other: Usage) -> Usage:
        return Usage(round(self.hours + other.hours, 6), round(self.money + other.money, 6))

    def __sub__(self, other: Usage) -> Usage:
        return Usage(round(self.hours - other.hours, 6), round(self.money - other.money, 6))

    def __bool__(self) -> bool:
        return bool(self.hours or self.money)


def entry_usage(entry: Item | None, lump_sum_price: float = 0.0) -> Usage:
    """What one entry uses: a stopped time entry its hours (and their price at its
    ``hourly_rate``), a lump sum its value, a lump-sum service ``amount * price``. A
    running entry uses nothing yet."""
    if entry is None:
        return Usage()
    kind = entry.get("type", ENTRY_TIME)
    if kind == ENTRY_LUMPSUM_VALUE:
        return Usage(money=float(entry.get("lumpsum") or 0))
    if kind == ENTRY_LUMPSUM_SERVICE:
        return Usage(money=round(float(entry.get("lumpsum_services_amount") or 0)
                                 * lump_sum_price, 6))
    hours = round((entry.get("duration") or 0) / 3600, 6)
    return Usage(hours=hours, money=round(hours * float(entry.get("hourly_rate") or 0), 6))


def targets(entry: Item | None) -> list[Target]:
    """The budgets an entry counts towards: its project's and its subproject's."""
    if entry is None:
        return []
    found: list[Target] = []
    if entry.get("projects_id"):
        found.append(("project", int(entry["projects_id"])))
    if entry.get("subprojects_id"):
        found.append(("subproject", int(entry["subprojects_id"])))
    return found


def deltas(old: Item | None, new: Item | None, old_usage: Usage,
           new_usage: Usage) -> dict[Target, Usage]:
    """How a change of an entry (``old`` → ``new``; None for created or deleted) changes
    the usage of each budget it counts towards (moves between projects included)."""
    result: dict[Target, Usage] = {}
    for target in targets(old):
        result[target] = result.get(target, Usage()) - old_usage
    for target in targets(new):
        result[target] = result.get(target, Usage()) + new_usage
    return {target: delta for target, delta in result.items() if delta}


def budget_key(budget: Item) -> str:
    """What makes a budget the same budget: its amount and its unit. Thresholds fired
    under one key never fire again under it; a new amount is a new budget."""
    return f"{budget.get('amount')}:{'money' if budget.get('monetary') else 'hours'}"


def crossed(budget: Item | None, usage: Usage) -> list[int]:
    """The budget's thresholds its usage has reached, highest first."""
    if not budget or not budget.get("amount") or not budget.get("notification_thresholds"):
        return []
    used = usage.money if budget.get("monetary") else usage.hours
    amount = float(budget["amount"])
    return sorted((t for t in budget["notification_thresholds"] if used * 100 >= t * amount),
                  reverse=True)


def payload(target: Target, threshold: int) -> dict[str, Any]:
    """Exactly Clockodo's payload of ``project.budget_notification``."""
    kind, owner_id = target
    return {"id": owner_id, "type": PAYLOAD_TYPES[kind], "threshold": threshold}
