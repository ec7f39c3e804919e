"""Event derivation: every type's created/updated/deleted, and every transition."""
from __future__ import annotations

from typing import Any

import pytest
from boto3.dynamodb.types import TypeSerializer

from chalicelib import events, resources

SERIALIZER = TypeSerializer()
WHEN = 1_790_000_000.5


def image(type_name: str, data: dict[str, Any], *, changed_at: str = "2026-01-01T00:00:00Z",
          company_id: int = 7, resource_id: int = 42) -> dict[str, Any]:
    plain = {"company_id": company_id, "sk": f"{type_name}#{resource_id:015d}",
             "type": type_name, "id": resource_id, "data": data, "version": 1,
             "changed_at": changed_at}
    return {k: SERIALIZER.serialize(v) for k, v in plain.items()}


def record(kind: str, old: dict[str, Any] | None, new: dict[str, Any] | None,
           event_id: str = "e1", sequence: str = "100") -> dict[str, Any]:
    stream: dict[str, Any] = {"ApproximateCreationDateTime": WHEN, "SequenceNumber": sequence,
                              "SizeBytes": 10, "StreamViewType": "NEW_AND_OLD_IMAGES",
                              "Keys": {}}
    if old is not None:
        stream["OldImage"] = old
    if new is not None:
        stream["NewImage"] = new
    return {"eventID": event_id, "eventName": kind, "eventVersion": "1.1",
            "eventSource": "aws:dynamodb", "awsRegion": "eu-central-1", "dynamodb": stream,
            "eventSourceARN": "arn:aws:dynamodb:eu-central-1:1:table/t/stream/s"}


def names(rec: dict[str, Any]) -> list[str]:
    return [c.event_name for c in events.derive(rec)]


TYPE_NAMES = [t.name for t in resources.TYPES]


@pytest.mark.parametrize("type_name", TYPE_NAMES)
def test_crud_events_for_every_type(type_name: str) -> None:
    base = {"name": "a", "time_until": "2026-01-01T10:00:00Z", "status": 0, "completed": False}
    changed = {**base, "name": "b"}
    assert names(record("INSERT", None, image(type_name, base))) == [f"{type_name}.created"]
    assert names(record("MODIFY", image(type_name, base), image(type_name, changed))) == \
        [f"{type_name}.updated"]
    assert names(record("REMOVE", image(type_name, base), None)) == [f"{type_name}.deleted"]


@pytest.mark.parametrize("type_name", TYPE_NAMES)
def test_a_write_that_changes_no_business_field_raises_nothing(type_name: str) -> None:
    data = {"name": "a", "time_until": None, "status": 1, "completed": True}
    rec = record("MODIFY", image(type_name, data),
                 image(type_name, data, changed_at="2026-02-02T00:00:00Z"))
    assert names(rec) == []


def test_change_carries_ids_time_and_record() -> None:
    (change,) = events.derive(record("INSERT", None, image("customer", {"name": "a"}),
                                     event_id="abc", sequence="555"))
    assert (change.company_id, change.resource_type, change.resource_id) == (7, "customer", 42)
    assert change.occurred_at == "2026-09-21T14:13:20Z"
    assert change.occurred_ms == int(WHEN * 1000)
    assert (change.record_id, change.sequence_number) == ("abc", "555")


@pytest.mark.parametrize(("kind", "old", "new", "expected"), [
    ("MODIFY", 0, 1, ["absence.updated", "absence.approved"]),
    ("MODIFY", 2, 1, ["absence.updated", "absence.approved"]),
    ("MODIFY", 1, 2, ["absence.updated"]),
    ("MODIFY", 0, 2, ["absence.updated"]),
    ("INSERT", None, 1, ["absence.created", "absence.approved"]),
    ("INSERT", None, 0, ["absence.created"]),
    ("REMOVE", 1, None, ["absence.deleted"]),
])
def test_absence_approved(kind: str, old: int | None, new: int | None,
                          expected: list[str]) -> None:
    old_image = image("absence", {"status": old}) if old is not None else None
    new_image = image("absence", {"status": new}) if new is not None else None
    assert names(record(kind, old_image, new_image)) == expected


def test_absence_approved_again_is_not_approved_twice() -> None:
    rec = record("MODIFY", image("absence", {"status": 1, "note": "a"}),
                 image("absence", {"status": 1, "note": "b"}))
    assert names(rec) == ["absence.updated"]


@pytest.mark.parametrize(("old", "new", "expected"), [
    (False, True, ["project.updated", "project.completed"]),
    (True, False, ["project.updated"]),
    (True, True, []),
])
def test_project_completed(old: bool, new: bool, expected: list[str]) -> None:
    rec = record("MODIFY", image("project", {"completed": old}),
                 image("project", {"completed": new}))
    assert names(rec) == expected


def test_subprojects_have_no_completed_event() -> None:
    rec = record("MODIFY", image("subproject", {"completed": False}),
                 image("subproject", {"completed": True}))
    assert names(rec) == ["subproject.updated"]


@pytest.mark.parametrize(("kind", "old", "new", "expected"), [
    ("INSERT", None, None, ["entry.created", "entry.started"]),
    ("INSERT", None, "2026-01-01T10:00:00Z", ["entry.created"]),
    ("MODIFY", None, "2026-01-01T10:00:00Z", ["entry.updated", "entry.stopped"]),
    ("MODIFY", "2026-01-01T10:00:00Z", "2026-01-01T11:00:00Z", ["entry.updated"]),
    ("MODIFY", "2026-01-01T10:00:00Z", None, ["entry.updated"]),
    ("REMOVE", None, None, ["entry.deleted"]),
])
def test_entry_started_and_stopped(kind: str, old: str | None, new: str | None,
                                   expected: list[str]) -> None:
    since = "2026-01-01T09:00:00Z"
    old_image = image("entry", {"time_since": since, "time_until": old}) \
        if kind != "INSERT" else None
    new_image = image("entry", {"time_since": since, "time_until": new}) \
        if kind != "REMOVE" else None
    assert names(record(kind, old_image, new_image)) == expected


def test_items_that_are_not_resources_raise_nothing() -> None:
    other = {"company_id": SERIALIZER.serialize(1), "sk": SERIALIZER.serialize("x")}
    assert names(record("INSERT", None, other)) == []
    unknown = image("invoice", {"name": "a"})
    assert names(record("INSERT", None, unknown)) == []


def test_every_derivable_event_is_in_the_catalogue() -> None:
    from chalicelib import catalogue

    for resource in resources.TYPES:
        for action in ("created", "updated", "deleted",
                       *(t.action for t in resource.transitions)):
            assert f"{resource.name}.{action}" in catalogue.event_names()
