"""The ``resources`` table: every Clockodo resource of every company.

Items are keyed ``(company_id, "<type>#<id>")`` and keep the resource's fields in ``data``;
the table's stream (new and old images) is where changes become events. ``changed_at`` and
``version`` are bookkeeping, not business fields: a write that changes only them raises no
event.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from chalicelib import aws, clock, settings
from chalicelib.errors import Conflict, NotFound, Unprocessable
from chalicelib.resources import TYPES, ResourceType

TABLE = "resources"
BUSY = "the company's resources of this type are being changed by another request; try again"


def sort_key(type_name: str, resource_id: int) -> str:
    return f"{type_name}#{resource_id:015d}"


def _key(company_id: int, type_name: str, resource_id: int) -> dict[str, Any]:
    return {"company_id": {"N": str(company_id)},
            "sk": {"S": sort_key(type_name, resource_id)}}


def item_json(resource_id: int, data: dict[str, Any]) -> dict[str, Any]:
    """A resource as the API shows it: its id, then its fields."""
    return {"id": resource_id, **data}


def _decode(item: dict[str, Any]) -> tuple[int, dict[str, Any], int]:
    values = aws.from_attributes(item)
    return values["id"], values["data"], values["version"]


def get(company_id: int, resource: ResourceType, resource_id: int) -> tuple[dict[str, Any], int]:
    """A resource's fields and version, or ``NotFound``."""
    response = aws.dynamodb().get_item(TableName=aws.table_name(TABLE),
                                       Key=_key(company_id, resource.name, resource_id),
                                       ConsistentRead=True)
    if "Item" not in response:
        raise NotFound(f"no {resource.name} {resource_id}", path="id")
    _, data, version = _decode(response["Item"])
    return data, version


def list_all(company_id: int, resource: ResourceType) -> list[dict[str, Any]]:
    """All resources of one type of the company, by id."""
    pages = aws.dynamodb().get_paginator("query").paginate(
        TableName=aws.table_name(TABLE),
        KeyConditionExpression="company_id = :c AND begins_with(sk, :prefix)",
        ExpressionAttributeValues={":c": {"N": str(company_id)},
                                   ":prefix": {"S": f"{resource.name}#"}},
        ConsistentRead=True,
    )
    result = []
    for page in pages:
        for item in page.get("Items", []):
            resource_id, data, _ = _decode(item)
            result.append(item_json(resource_id, data))
    return result


def first(company_id: int, resource: ResourceType, count: int) -> list[dict[str, Any]]:
    """The company's first ``count`` resources of one type, by id: queries of ``count``
    items at most (what a page of an unfiltered list reads)."""
    kwargs: dict[str, Any] = {
        "TableName": aws.table_name(TABLE), "ConsistentRead": True,
        "KeyConditionExpression": "company_id = :c AND begins_with(sk, :prefix)",
        "ExpressionAttributeValues": {":c": {"N": str(company_id)},
                                      ":prefix": {"S": f"{resource.name}#"}}}
    result: list[dict[str, Any]] = []
    while len(result) < count:
        response = aws.dynamodb().query(**kwargs, Limit=count - len(result))
        for item in response.get("Items", []):
            resource_id, data, _ = _decode(item)
            result.append(item_json(resource_id, data))
        if "LastEvaluatedKey" not in response:
            break
        kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]
    return result


def _count_key(company_id: int, resource: ResourceType) -> dict[str, Any]:
    """The counters item that keeps how many resources of a type the company has."""
    return {"name": {"S": f"count:{company_id}:{resource.name}"}}


def _count_update(company_id: int, resource: ResourceType, delta: int) -> dict[str, Any]:
    """The ``TransactWriteItems`` entry that moves the type's count with a create or
    delete, in the same transaction."""
    return {"Update": {"TableName": aws.table_name("counters"),
                       "Key": _count_key(company_id, resource),
                       "UpdateExpression": "ADD #v :d",
                       "ExpressionAttributeNames": {"#v": "value"},
                       "ExpressionAttributeValues": {":d": {"N": str(delta)}}}}


def seed_counts(company_id: int) -> None:
    """Start the counts of a new company at 0, marked as complete (``seeded``): counts
    kept from its first resource on. A company without them (made before counts were
    kept) has its lists read whole, and counted by reading, as before."""
    for resource in TYPES:
        aws.dynamodb().update_item(
            TableName=aws.table_name("counters"), Key=_count_key(company_id, resource),
            UpdateExpression="SET #v = if_not_exists(#v, :zero), seeded = :true",
            ExpressionAttributeNames={"#v": "value"},
            ExpressionAttributeValues={":zero": {"N": "0"}, ":true": {"BOOL": True}})


def count(company_id: int, resource: ResourceType) -> int | None:
    """How many resources of the type the company has, as kept with every create and
    delete since the company's counts were seeded; None where they were not."""
    item = aws.dynamodb().get_item(TableName=aws.table_name("counters"),
                                   Key=_count_key(company_id, resource),
                                   ConsistentRead=True).get("Item")
    if item is None or not item.get("seeded", {}).get("BOOL"):
        return None
    return int(item["value"]["N"])


def _item(company_id: int, resource: ResourceType, resource_id: int, data: dict[str, Any],
          version: int) -> dict[str, Any]:
    return aws.to_attributes({"company_id": company_id,
                              "sk": sort_key(resource.name, resource_id),
                              "type": resource.name, "id": resource_id, "data": data,
                              "version": version, "changed_at": clock.now_iso()})


def _put(company_id: int, resource: ResourceType, resource_id: int, data: dict[str, Any],
         version: int, condition: str, values: dict[str, Any] | None = None) -> None:
    kwargs: dict[str, Any] = {"TableName": aws.table_name(TABLE),
                              "Item": _item(company_id, resource, resource_id, data, version),
                              "ConditionExpression": condition}
    if values:
        kwargs["ExpressionAttributeValues"] = values
    aws.dynamodb().put_item(**kwargs)


def create(company_id: int, resource: ResourceType, data: dict[str, Any]) -> int:
    """Store a new resource and count it, in one transaction; returns its id."""
    # busy across the service (everyone clocks in at 9): ids come in blocks per container
    resource_id = aws.next_id(f"resource:{resource.name}", block=settings.get().id_block_size)
    aws.transact([
        {"Put": {"TableName": aws.table_name(TABLE),
                 "Item": _item(company_id, resource, resource_id, data, 1),
                 "ConditionExpression": "attribute_not_exists(sk)"}},
        _count_update(company_id, resource, 1)], busy=BUSY)
    return resource_id


def replace(company_id: int, resource: ResourceType, resource_id: int, data: dict[str, Any],
            version: int) -> None:
    """Overwrite a resource's fields if nobody changed it since ``version`` was read."""
    try:
        _put(company_id, resource, resource_id, data, version + 1, "version = :v",
             {":v": {"N": str(version)}})
    except Exception as exc:
        if aws.error_code(exc) == "ConditionalCheckFailedException":
            raise Conflict(f"the {resource.name} was changed or deleted meanwhile; read it "
                           "again", type="ResourceChanged") from None
        raise


def delete(company_id: int, resource: ResourceType, resource_id: int, *,
           version: int | None = None, also: Sequence[dict[str, Any]] = ()) -> None:
    """Delete a resource and count it gone, in one transaction, or ``NotFound``. With
    ``version``: only if nobody changed it since that version was read (``Conflict``
    otherwise). With ``also``: those ``TransactWriteItems`` entries in the same
    transaction (a deleted user's API keys): all of it happens, or nothing does."""
    delete: dict[str, Any] = {"TableName": aws.table_name(TABLE),
                              "Key": _key(company_id, resource.name, resource_id),
                              "ConditionExpression": "attribute_exists(sk)"}
    if version is not None:
        delete.update(ConditionExpression="version = :v",
                      ExpressionAttributeValues={":v": {"N": str(version)}})
    try:
        aws.transact([{"Delete": delete}, _count_update(company_id, resource, -1), *also],
                     busy=BUSY)
    except aws.Cancelled as cancelled:
        if cancelled.reasons[0] == "ConditionalCheckFailed" and version is None:
            raise NotFound(f"no {resource.name} {resource_id}", path="id") from None
        raise Conflict(f"the {resource.name} or what goes with it was changed meanwhile; "
                       "read it again", type="ResourceChanged") from None


def require_existing(company_id: int, wanted: list[tuple[str, str, int]]) -> None:
    """Raise ``ResourceNotFound`` (422) unless every ``(field, type, id)`` exists in the
    company. One BatchGetItem for up to 100 references."""
    keys = {(type_name, resource_id) for _, type_name, resource_id in wanted}
    items = aws.batch_get(aws.table_name(TABLE),
                          [_key(company_id, t, i) for t, i in sorted(keys)], projection="sk")
    found = {item["sk"]["S"] for item in items}
    for field, type_name, resource_id in wanted:
        if sort_key(type_name, resource_id) not in found:
            raise Unprocessable(f"{field}: there is no {type_name} {resource_id}", path=field,
                                type="ResourceNotFound", details={"id": resource_id})
