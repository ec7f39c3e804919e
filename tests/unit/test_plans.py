"""Plan rules and the event catalogue."""
from __future__ import annotations

import pytest

from chalicelib import catalogue, plans, settings
from chalicelib.errors import Unprocessable

CONFIG = settings.from_environ({})


def test_the_catalogue_has_clockodos_47_events_in_14_types() -> None:
    assert len(catalogue.TYPES) == 14
    assert len(catalogue.event_names()) == 47
    assert {"absence.approved", "project.completed", "project.budget_notification",
            "entry.started", "entry.stopped", "work_time_change_request.deleted"} \
        <= catalogue.event_names()


def test_catalogue_matches_clockodos_webhook_reference() -> None:
    import yaml  # comes with cfn-lint

    from tests.reference import webhooks_reference

    document = yaml.safe_load(webhooks_reference().read_text(encoding="utf-8"))
    # Clockodo's document keys its webhooks "type_action" and titles them "type.action".
    titles = {hook["post"]["summary"].removeprefix("Webhook: ")
              for hook in document["webhooks"].values()}
    assert titles == catalogue.event_names()


def test_type_of_is_the_part_before_the_dot() -> None:
    assert catalogue.type_of("lump_sum_service.created") == "lump_sum_service"
    assert catalogue.type_of("project.budget_notification") == "project"


@pytest.mark.parametrize(("plan", "limit"), [
    ("basic", 2), ("pro", 2), ("freelancer", 2), ("enterprise", 3), ("trial", 3)])
def test_default_limits_per_type(plan: str, limit: int) -> None:
    assert plans.limit_per_type(CONFIG, plan) == limit


def test_limits_are_configurable() -> None:
    config = settings.from_environ({"WEBHOOKS_PLAN_LIMITS": "basic=5,enterprise=10"})
    assert plans.limit_per_type(config, "basic") == 5
    assert plans.limit_per_type(config, "pro") == 0


@pytest.mark.parametrize(("plan", "allowed"), [
    ("trial", True), ("enterprise", True), ("basic", False), ("pro", False),
    ("freelancer", False)])
def test_budget_notifications_only_on_trial_and_enterprise(plan: str, allowed: bool) -> None:
    assert plans.event_allowed(CONFIG, plan, "project.budget_notification") is allowed
    assert plans.event_allowed(CONFIG, plan, "project.created") is True


def test_refusals_name_their_rule() -> None:
    with pytest.raises(plans.EventNotInPlan) as caught:
        plans.require_event_allowed(CONFIG, "basic", "project.budget_notification")
    assert caught.value.status == 403
    assert caught.value.to_error()["type"] == "EventNotInPlan"
    error = plans.limit_reached("customer", "basic", 2)
    assert error.status == 403
    assert error.to_error() == {
        "type": "MaxWebhooksOfPlanTypeReached",
        "message": error.message,
        "path": "event_name",
        "details": {"plan": "basic", "webhook_type": "customer", "limit": 2},
    }


def test_unknown_plans_are_refused() -> None:
    with pytest.raises(Unprocessable):
        plans.check_plan("gold")


def test_catalogue_for_shows_remaining_per_type_and_availability() -> None:
    rows = {row["type"]: row for row in plans.catalogue_for(CONFIG, "basic", {"customer": 2,
                                                                              "team": 1})}
    assert rows["customer"]["remaining"] == 0
    assert rows["team"]["remaining"] == 1
    assert rows["user"]["remaining"] == 2
    assert rows["customer"]["label_de"] == "Kunde"
    project_events = {e["event_name"]: e for e in rows["project"]["events"]}
    assert project_events["project.budget_notification"]["available"] is False
    assert project_events["project.created"]["label_en"] == "Project created"
    assert project_events["project.created"]["label_de"] == "Projekt erstellt"
    assert sum(len(row["events"]) for row in rows.values()) == 47
