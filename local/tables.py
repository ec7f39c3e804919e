"""Creating the service's tables from the deployment template itself.

``infra/template.json`` is the one place the tables are defined: CloudFormation creates
them in AWS from it, and this module creates the same tables in moto for ``make run``
and the tests.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

TEMPLATE = Path(__file__).resolve().parent.parent / "infra" / "template.json"


def _resolve(value: Any, parameters: dict[str, str]) -> Any:
    """Resolve the few intrinsic functions the table definitions use (Fn::Sub, Ref)."""
    if isinstance(value, dict) and set(value) == {"Fn::Sub"}:
        text = value["Fn::Sub"]
        for name, replacement in parameters.items():
            text = text.replace("${" + name + "}", replacement)
        return text
    if isinstance(value, dict) and set(value) == {"Ref"}:
        return parameters[value["Ref"]]
    if isinstance(value, dict):
        return {k: _resolve(v, parameters) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve(v, parameters) for v in value]
    return value


def table_definitions(table_prefix: str) -> list[tuple[dict[str, Any], dict[str, Any] | None]]:
    """For every ``AWS::DynamoDB::Table`` of the template: its ``create_table`` arguments
    and its time-to-live specification (None when it has none)."""
    template = json.loads(TEMPLATE.read_text(encoding="utf-8"))
    definitions = []
    for resource in template["Resources"].values():
        if resource.get("Type") != "AWS::DynamoDB::Table":  # other entries merge into Chalice's
            continue
        props = _resolve(resource["Properties"], {"TablePrefix": table_prefix})
        kwargs = {k: props[k] for k in ("TableName", "AttributeDefinitions", "KeySchema",
                                          "BillingMode", "GlobalSecondaryIndexes",
                                          "LocalSecondaryIndexes") if k in props}
        if "StreamSpecification" in props:
            kwargs["StreamSpecification"] = {
                "StreamEnabled": True,
                "StreamViewType": props["StreamSpecification"]["StreamViewType"],
            }
        definitions.append((kwargs, props.get("TimeToLiveSpecification")))
    return definitions


def create_tables(client: Any, table_prefix: str) -> list[str]:
    """Create the tables that do not exist yet (idempotent); return all their names."""
    existing = set(client.get_paginator("list_tables").paginate().build_full_result()
                   .get("TableNames", []))
    names = []
    for definition, ttl in table_definitions(table_prefix):
        name = definition["TableName"]
        names.append(name)
        if name in existing:
            continue
        client.create_table(**definition)
        client.get_waiter("table_exists").wait(TableName=name,
                                               WaiterConfig={"Delay": 0.1, "MaxAttempts": 50})
        if ttl:
            client.update_time_to_live(TableName=name, TimeToLiveSpecification=ttl)
    return names
