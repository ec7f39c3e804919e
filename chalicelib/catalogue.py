"""The event catalogue: every event name, read off the resource registry.

An event name is ``<type>.<action>``; a type's actions are created, updated, deleted, its
transitions (``absence.approved``, ...) and events raised elsewhere
(``project.budget_notification``). See ``resources.TYPES``.
"""
from __future__ import annotations

from functools import cache

from chalicelib.resources import TYPES, ResourceType

__all__ = ["BUDGET_NOTIFICATION", "TYPES", "event_labels", "event_names", "type_of"]

#: English and German labels of the actions that event names end in.
ACTION_LABELS: dict[str, tuple[str, str]] = {
    "created": ("created", "erstellt"),
    "updated": ("updated", "bearbeitet"),
    "deleted": ("deleted", "gelöscht"),
    "approved": ("approved", "genehmigt"),
    "completed": ("completed", "abgeschlossen"),
    "budget_notification": ("budget notification", "Budgetbenachrichtigung"),
    "started": ("started", "gestartet"),
    "stopped": ("stopped", "gestoppt"),
}

#: Offered only on some plans (see settings.budget_notification_plans).
BUDGET_NOTIFICATION = "project.budget_notification"


@cache
def event_names() -> frozenset[str]:
    """All event names the service knows."""
    return frozenset(f"{t.name}.{action}" for t in TYPES for action in t.actions)


def type_of(event_name: str) -> str:
    """The webhook type of an event name: the part before the dot."""
    return event_name.partition(".")[0]


def event_labels(resource: ResourceType, action: str) -> tuple[str, str]:
    """English and German labels of one event, e.g. ("Customer created", "Kunde erstellt")."""
    en, de = ACTION_LABELS[action]
    return f"{resource.label_en} {en}", f"{resource.label_de} {de}"
