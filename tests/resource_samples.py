"""A valid create body and a change for every resource type, for tests at every layer."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

#: Types other samples point at, in the order they can be created.
PREREQUISITES = ("user", "customer", "service", "project")
PREREQUISITE_EMAIL = "wendy@example.com"


def bodies(ids: dict[str, int]) -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
    """``type -> (create body, edit body)``; ``ids`` holds one id per prerequisite type."""
    user, customer = ids.get("user", 0), ids.get("customer", 0)
    return {
        "user": ({"email": "worker@example.com", "name": "Wendy", "role": "worker"},
                 {"name": "Wendy W."}),
        "absence": ({"date_since": "2026-03-02", "type": 1, "users_id": user},
                    {"note": "two days", "date_until": "2026-03-03"}),
        "customer": ({"name": "Acme"}, {"name": "Acme Ltd", "color": 3}),
        "project": ({"name": "Website", "customers_id": customer}, {"deadline": "2026-12-24"}),
        "subproject": ({"projects_id": ids.get("project", 0), "name": "Design"},
                       {"name": "Design 2"}),
        "service": ({"name": "Consulting"}, {"active": False}),
        "lump_sum_service": ({"name": "Setup", "price": 99.5}, {"price": 120}),
        "team": ({"name": "Blue", "leader": user, "user_ids": [user]}, {"name": "Red"}),
        "holidays_quota": ({"users_id": user, "year_since": 2026, "count": 25},
                           {"count": 26.5}),
        "holidays_carry": ({"users_id": user, "year": 2026, "count": 2}, {"count": 3}),
        "overtime_carry": ({"users_id": user, "year": 2026, "hours": 10.5}, {"hours": -2}),
        "nonbusiness_group": ({"name": "NRW"}, {"name": "Nordrhein-Westfalen"}),
        "work_time_change_request": (
            {"date": "2026-03-02", "users_id": user, "changes": [
                {"type": 1, "time_since": "2026-03-02T08:00:00Z",
                 "time_until": "2026-03-02T12:00:00Z"}]},
            {"status": 2}),
        "entry": ({"customers_id": customer, "services_id": ids.get("service", 0),
                   "users_id": user, "billable": 1, "time_since": "2026-03-02T08:00:00Z",
                   "time_until": "2026-03-02T09:00:00Z"},
                  {"text": "meeting"}),
    }


#: The query every list needs: Clockodo requires a time range for entries.
REQUIRED_QUERY = {"entry": "?time_since=2000-01-01T00:00:00Z&time_until=2100-01-01T00:00:00Z"}


def list_path(type_name: str, path: str) -> str:
    """The list route of a type with the query parameters it requires."""
    return path + REQUIRED_QUERY.get(type_name, "")


def create_prerequisites(create: Callable[[str, dict[str, Any]], int]) -> dict[str, int]:
    """Create one resource of each prerequisite type with ``create(type, body) -> id``."""
    ids: dict[str, int] = {}
    for name in PREREQUISITES:
        body = bodies(ids)[name][0]
        if name == "user":  # an e-mail names one user of a company: the sample stays free
            body = {**body, "email": PREREQUISITE_EMAIL}
        ids[name] = create(name, body)
    return ids
