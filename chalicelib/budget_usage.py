"""Budget usage, kept from the resources table's stream, and the budget notifications it
raises (``project.budget_notification``). Runs in the fan-out, on its stream records.

Usage lives in the ``counters`` table, one item per project or subproject
(``budget#<company>#<kind>#<id>``: ``hours``, ``money``), changed by atomic ``ADD`` with
each entry's change — never by rereading the entries. Each item remembers the last stream
sequence number it applied, so a retried batch counts nothing twice (one company's
changes share a shard, in order).

A threshold fires at most once per budget (amount and unit): the first stream record that
finds it crossed claims it with a conditional write (``n_<budget>_<threshold>`` = the
record's id), so two entries written at the same moment, a retried batch, or usage that
falls and rises again never fire it twice; a retry of the claiming record queues the same
delivery again, which the worker sends once.
"""
from __future__ import annotations

from typing import Any

from chalicelib import (
    aws,
    budgets,
    catalogue,
    clock,
    companies,
    events,
    plans,
    resource_store,
    resources,
    settings,
)
from chalicelib.budgets import Target, Usage
from chalicelib.errors import NotFound
from chalicelib.events import Change

TABLE = "counters"


def _key(company_id: int, target: Target) -> dict[str, Any]:
    kind, owner_id = target
    return {"name": {"S": f"budget#{company_id}#{kind}#{owner_id}"}}


def _usage(attributes: dict[str, Any]) -> Usage:
    return Usage(float(attributes.get("hours", {}).get("N", 0)),
                 float(attributes.get("money", {}).get("N", 0)))


def add_usage(company_id: int, target: Target, delta: Usage, sequence: str) -> Usage:
    """Add ``delta`` to the target's usage once per stream record; the usage after it."""
    try:
        response = aws.dynamodb().update_item(
            TableName=aws.table_name(TABLE), Key=_key(company_id, target),
            UpdateExpression="ADD hours :h, money :m SET applied = :seq",
            ConditionExpression="attribute_not_exists(applied) OR applied < :seq",
            ExpressionAttributeValues={":h": {"N": repr(delta.hours)},
                                       ":m": {"N": repr(delta.money)},
                                       ":seq": {"S": sequence.zfill(40)}},
            ReturnValues="ALL_NEW")
    except Exception as exc:
        if aws.error_code(exc) != "ConditionalCheckFailedException":
            raise
        return usage(company_id, target)  # applied before: a retried batch
    return _usage(response["Attributes"])


def usage(company_id: int, target: Target) -> Usage:
    """The target's usage so far."""
    response = aws.dynamodb().get_item(TableName=aws.table_name(TABLE),
                                       Key=_key(company_id, target), ConsistentRead=True)
    return _usage(response.get("Item", {}))


def claim(company_id: int, target: Target, budget_key: str, thresholds: list[int],
          record_id: str) -> bool:
    """Claim ``thresholds[0]`` (the highest crossed) for this record, and the lower ones
    with it; False if another record claimed it before."""
    names = {f"#t{i}": f"n_{budget_key}_{t}" for i, t in enumerate(thresholds)}
    lower = [f"#t{i} = if_not_exists(#t{i}, :rid)" for i in range(1, len(thresholds))]
    try:
        aws.dynamodb().update_item(
            TableName=aws.table_name(TABLE), Key=_key(company_id, target),
            UpdateExpression="SET " + ", ".join(["#t0 = :rid", *lower]),
            ConditionExpression="attribute_not_exists(#t0) OR #t0 = :rid",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues={":rid": {"S": record_id}})
    except Exception as exc:
        if aws.error_code(exc) == "ConditionalCheckFailedException":
            return False
        raise
    return True


def _data(company_id: int, kind: str, resource_id: int) -> dict[str, Any] | None:
    try:
        data, _ = resource_store.get(company_id, resources.get(kind), resource_id)
    except NotFound:
        return None
    return data


def _lump_sum_price(company_id: int, entry: dict[str, Any] | None) -> float:
    if not entry or not entry.get("lumpsum_services_id"):
        return 0.0
    service = _data(company_id, "lump_sum_service", int(entry["lumpsum_services_id"]))
    return float(service["price"]) if service else 0.0


def notifications(records: list[dict[str, Any]]) -> list[Change]:
    """Count the entries' changes of a batch of stream records into their budgets, and the
    budget notifications that raises (on plans that offer the event)."""
    config = settings.get()
    offered: dict[int, bool] = {}
    found: list[Change] = []
    for record in records:
        old, new = events.image(record, "OldImage"), events.image(record, "NewImage")
        current = new or old
        if not current or current.get("type") not in ("entry", "project", "subproject"):
            continue
        company_id = int(current["company_id"])
        old_data, new_data = (old or {}).get("data"), (new or {}).get("data")
        sequence = record["dynamodb"]["SequenceNumber"]
        touched: dict[Target, Usage | None] = {}
        if current["type"] == "entry":
            for target, delta in budgets.deltas(
                    old_data, new_data,
                    budgets.entry_usage(old_data, _lump_sum_price(company_id, old_data)),
                    budgets.entry_usage(new_data, _lump_sum_price(company_id, new_data))
            ).items():
                touched[target] = add_usage(company_id, target, delta, sequence)
        elif new_data is not None and new_data.get("budget") and \
                (old_data or {}).get("budget") != new_data.get("budget"):
            touched[(current["type"], int(current["id"]))] = None  # a new or changed budget
        if not touched:
            continue
        if company_id not in offered:
            company = companies.get(company_id)
            offered[company_id] = company is not None and plans.event_allowed(
                config, company.plan, catalogue.BUDGET_NOTIFICATION)
        if not offered[company_id]:
            continue  # usage is kept all the same, for when the plan offers it
        for target, now in touched.items():
            change = _notification(record, company_id, target, now)
            if change is not None:
                found.append(change)
    return found


def _notification(record: dict[str, Any], company_id: int, target: Target,
                  now: Usage | None) -> Change | None:
    data = _data(company_id, *target)
    budget = data.get("budget") if data else None
    reached = budgets.crossed(budget, now if now is not None else usage(company_id, target))
    if not budget or not reached:
        return None
    record_id = f"{record['eventID']}#{target[0]}{target[1]}"
    if not claim(company_id, target, budgets.budget_key(budget), reached, record_id):
        return None
    stream = record["dynamodb"]
    seconds = float(stream.get("ApproximateCreationDateTime") or clock.now())
    return Change(record_id=record_id, sequence_number=stream["SequenceNumber"],
                  company_id=company_id, resource_type="project", resource_id=target[1],
                  event_name=catalogue.BUDGET_NOTIFICATION, occurred_at=clock.iso(seconds),
                  occurred_ms=int(seconds * 1000),
                  payload=budgets.payload(target, reached[0]))
