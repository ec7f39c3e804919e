"""The one registry of webhook types and their events.

The API's event catalogue, the plan limits, request validation and (later) the fan-out
all read this table. Adding a resource type is one ``WebhookType`` entry.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cache

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

CRUD = ("created", "updated", "deleted")


@dataclass(frozen=True)
class WebhookType:
    """A type of resource that webhooks subscribe to; its name is the event prefix."""

    name: str
    label_en: str
    label_de: str
    actions: tuple[str, ...] = CRUD

    @property
    def event_names(self) -> tuple[str, ...]:
        return tuple(f"{self.name}.{action}" for action in self.actions)


#: The 14 types of Clockodo's webhooks, in the order of its product page.
TYPES: tuple[WebhookType, ...] = (
    WebhookType("user", "User", "Nutzer"),
    WebhookType("absence", "Absence", "Abwesenheiten", (*CRUD, "approved")),
    WebhookType("customer", "Customer", "Kunde"),
    WebhookType("project", "Project", "Projekt", (*CRUD, "completed", "budget_notification")),
    WebhookType("subproject", "Subproject", "Unterprojekt"),
    WebhookType("service", "Service", "Leistung"),
    WebhookType("lump_sum_service", "Lump-sum service", "Pauschalleistung"),
    WebhookType("team", "Team", "Team"),
    WebhookType("holidays_quota", "Holiday quota", "Urlaubskontingent"),
    WebhookType("holidays_carry", "Holiday carryover", "Urlaubsübertrag"),
    WebhookType("overtime_carry", "Overtime carryover", "Überstundenübertrag"),
    WebhookType("nonbusiness_group", "Non-business day group", "Feiertagsgruppe"),
    WebhookType(
        "work_time_change_request",
        "Work time change request",
        "Arbeitszeitanpassungen und Anträge",
    ),
    WebhookType("entry", "Time entry", "Zeiteintrag", (*CRUD, "started", "stopped")),
)

#: Events that only some plans may subscribe to (see settings.budget_notification_plans).
BUDGET_NOTIFICATION = "project.budget_notification"


@cache
def event_names() -> frozenset[str]:
    """All event names the service knows."""
    return frozenset(name for t in TYPES for name in t.event_names)


def type_of(event_name: str) -> str:
    """The webhook type of an event name: the part before the dot."""
    return event_name.partition(".")[0]


def event_labels(webhook_type: WebhookType, action: str) -> tuple[str, str]:
    """English and German labels of one event, e.g. ("Customer created", "Kunde erstellt")."""
    en, de = ACTION_LABELS[action]
    return f"{webhook_type.label_en} {en}", f"{webhook_type.label_de} {de}"
