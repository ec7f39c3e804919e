"""From a change to a resource (a DynamoDB stream record) to the event names it raises.

Pure logic: INSERT raises ``created``, REMOVE ``deleted``, MODIFY ``updated`` only when a
business field changed (``data``; bookkeeping such as ``changed_at`` does not count, and
moto emits MODIFY even for a write that changes nothing). Each type's transitions add
their own events (``absence.approved``, ``project.completed``, ``entry.started``,
``entry.stopped``). ``occurred_at`` is the time DynamoDB recorded the change.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chalicelib import aws, clock, resources


@dataclass(frozen=True)
class Change:
    """One event about one resource, raised by one stream record."""

    record_id: str  # the stream record's eventID: retries of a batch repeat it
    sequence_number: str
    company_id: int
    resource_type: str
    resource_id: int
    event_name: str
    occurred_at: str  # ISO 8601 UTC
    occurred_ms: int  # the same instant in milliseconds, to order delivery ids by time
    #: the notification's ``payload`` when it is not ``{<type>: {"id": <id>}}`` (budget
    #: notifications)
    payload: dict[str, Any] | None = None


def image(record: dict[str, Any], name: str) -> dict[str, Any] | None:
    """A stream record's ``OldImage`` or ``NewImage`` as plain values, if it has one."""
    image = record.get("dynamodb", {}).get(name)
    return aws.from_attributes(image) if image else None


def derive(record: dict[str, Any]) -> list[Change]:
    """The changes one Lambda-shaped DynamoDB stream record raises (maybe none)."""
    old = image(record, "OldImage")
    new = image(record, "NewImage")
    current = new or old
    if current is None or "type" not in current or "data" not in current:
        return []  # not a resource item
    try:
        resource = resources.get(current["type"])
    except KeyError:
        return []
    old_data = old["data"] if old else None
    new_data = new["data"] if new else None
    kind = record.get("eventName")
    actions: list[str] = []
    if kind == "INSERT":
        actions.append("created")
    elif kind == "REMOVE":
        actions.append("deleted")
    elif kind == "MODIFY" and old_data != new_data:
        actions.append("updated")
    actions += [t.action for t in resource.transitions
                if kind != "REMOVE" and t.happened(old_data, new_data)]
    stream = record["dynamodb"]
    seconds = float(stream.get("ApproximateCreationDateTime") or clock.now())
    return [
        Change(record_id=record["eventID"], sequence_number=stream["SequenceNumber"],
               company_id=int(current["company_id"]), resource_type=resource.name,
               resource_id=int(current["id"]), event_name=f"{resource.name}.{action}",
               occurred_at=clock.iso(seconds), occurred_ms=int(seconds * 1000))
        for action in actions
    ]
