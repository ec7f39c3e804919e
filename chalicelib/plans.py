"""Plan rules: how many webhooks a company may have per type, and which events its plan offers.

Pure logic: the store enforces the numbers atomically (see ``subscriptions``).
"""
from __future__ import annotations

from typing import Any

from chalicelib import catalogue
from chalicelib.errors import Forbidden, Unprocessable
from chalicelib.settings import Settings

PLANS = ("trial", "basic", "pro", "freelancer", "enterprise")


class PlanLimitReached(Forbidden):
    """The company already has as many webhooks of this type as its plan allows."""

    type = "MaxWebhooksOfPlanTypeReached"


class EventNotInPlan(Forbidden):
    """The company's plan does not offer this event."""

    type = "EventNotInPlan"


def check_plan(plan: str) -> str:
    """Return ``plan`` if it is one of the known plans, else raise."""
    if plan not in PLANS:
        raise Unprocessable(f"unknown plan {plan!r}; one of {', '.join(PLANS)}", path="plan")
    return plan


def limit_per_type(settings: Settings, plan: str) -> int:
    """How many webhooks of one type a company on ``plan`` may have."""
    return settings.plan_limits.get(plan, 0)


def event_allowed(settings: Settings, plan: str, event_name: str) -> bool:
    """Whether the plan offers subscribing to this event at all."""
    if event_name == catalogue.BUDGET_NOTIFICATION:
        return plan in settings.budget_notification_plans
    return True


def require_event_allowed(settings: Settings, plan: str, event_name: str) -> None:
    """Raise ``EventNotInPlan`` unless the plan offers ``event_name``."""
    if not event_allowed(settings, plan, event_name):
        raise EventNotInPlan(
            f"the {plan} plan does not offer {event_name}",
            path="event_name",
            details={"plan": plan, "event_name": event_name},
        )


def limit_reached(webhook_type: str, plan: str, limit: int) -> PlanLimitReached:
    """The error for a create or edit that would exceed the type's limit."""
    return PlanLimitReached(
        f"the {plan} plan allows {limit} webhook(s) of type {webhook_type}; delete one first",
        path="event_name",
        details={"plan": plan, "webhook_type": webhook_type, "limit": limit},
    )


def catalogue_for(settings: Settings, plan: str, used: dict[str, int]) -> list[dict[str, Any]]:
    """The event catalogue as the API shows it: types, events, labels and what is left.

    ``used`` maps webhook types to how many webhooks the company has of each.
    """
    limit = limit_per_type(settings, plan)
    result = []
    for webhook_type in catalogue.TYPES:
        events = []
        for action in webhook_type.actions:
            name = f"{webhook_type.name}.{action}"
            en, de = catalogue.event_labels(webhook_type, action)
            events.append({"event_name": name, "label_en": en, "label_de": de,
                           "available": event_allowed(settings, plan, name)})
        count = used.get(webhook_type.name, 0)
        result.append({
            "type": webhook_type.name,
            "label_en": webhook_type.label_en,
            "label_de": webhook_type.label_de,
            "events": events,
            "limit": limit,
            "used": count,
            "remaining": max(0, limit - count),
        })
    return result
