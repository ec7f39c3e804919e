"""Creating the service's tables and queues from the deployment template itself.

``infra/template.json`` is the one place they are defined: CloudFormation creates them in
AWS from it, and this module creates the same ones in moto for ``make run`` and the tests.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

TEMPLATE = Path(__file__).resolve().parent.parent / "infra" / "template.json"


def _template() -> dict[str, Any]:
    return dict(json.loads(TEMPLATE.read_text(encoding="utf-8")))


def _resolve(value: Any, parameters: dict[str, str], arns: dict[str, str]) -> Any:
    """Resolve the intrinsic functions the definitions use: Fn::Sub, Ref, Fn::GetAtt Arn."""
    if isinstance(value, dict) and set(value) == {"Fn::Sub"}:
        text = value["Fn::Sub"]
        for name, replacement in parameters.items():
            text = text.replace("${" + name + "}", replacement)
        return text
    if isinstance(value, dict) and set(value) == {"Ref"}:
        return parameters[value["Ref"]]
    if isinstance(value, dict) and set(value) == {"Fn::GetAtt"}:
        return arns[value["Fn::GetAtt"][0]]
    if isinstance(value, dict):
        return {k: _resolve(v, parameters, arns) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve(v, parameters, arns) for v in value]
    return value


def _of_type(kind: str) -> list[tuple[str, dict[str, Any]]]:
    # Entries without a Type are fragments merged into Chalice's own resources.
    return [(name, resource) for name, resource in _template()["Resources"].items()
            if resource.get("Type") == kind]


def table_definitions(table_prefix: str) -> list[tuple[dict[str, Any], dict[str, Any] | None]]:
    """For every ``AWS::DynamoDB::Table`` of the template: its ``create_table`` arguments
    and its time-to-live specification (None when it has none)."""
    definitions = []
    for _, resource in _of_type("AWS::DynamoDB::Table"):
        props = _resolve(resource["Properties"], {"TablePrefix": table_prefix}, {})
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


_QUEUE_ATTRIBUTES = ("VisibilityTimeout", "MessageRetentionPeriod", "DelaySeconds",
                     "ReceiveMessageWaitTimeSeconds", "MaximumMessageSize")


def create_queues(client: Any, table_prefix: str,
                  visibility_timeout: int | None = None) -> dict[str, str]:
    """Create the template's SQS queues (idempotent), dead-letter queues first; return
    their URLs by logical name. ``visibility_timeout`` replaces the template's."""
    pending = dict(_of_type("AWS::SQS::Queue"))
    arns: dict[str, str] = {}
    urls: dict[str, str] = {}
    while pending:
        for logical, resource in list(pending.items()):
            if any(dep not in arns for dep in _get_att_targets(resource)):
                continue  # its dead-letter queue first
            props = _resolve(resource["Properties"], {"TablePrefix": table_prefix}, arns)
            attributes = {k: str(props[k]) for k in _QUEUE_ATTRIBUTES if k in props}
            if visibility_timeout is not None:
                attributes["VisibilityTimeout"] = str(visibility_timeout)
            if "RedrivePolicy" in props:
                attributes["RedrivePolicy"] = json.dumps(props["RedrivePolicy"])
            url = client.create_queue(QueueName=props["QueueName"],
                                      Attributes=attributes)["QueueUrl"]
            arns[logical] = client.get_queue_attributes(
                QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            urls[logical] = url
            del pending[logical]
    return urls


def _get_att_targets(value: Any) -> list[str]:
    if isinstance(value, dict):
        if set(value) == {"Fn::GetAtt"}:
            return [value["Fn::GetAtt"][0]]
        return [t for v in value.values() for t in _get_att_targets(v)]
    if isinstance(value, list):
        return [t for v in value for t in _get_att_targets(v)]
    return []


@dataclass(frozen=True)
class LocalInfrastructure:
    tables: list[str]
    queues: dict[str, str]  # logical name -> URL
    resources_stream_arn: str


def create_all(dynamodb: Any, sqs: Any, table_prefix: str,
               visibility_timeout: int | None = None) -> LocalInfrastructure:
    """Every table and queue of the template, and the resources table's stream ARN."""
    tables = create_tables(dynamodb, table_prefix)
    queues = create_queues(sqs, table_prefix, visibility_timeout)
    stream = dynamodb.describe_table(TableName=f"{table_prefix}-resources")["Table"][
        "LatestStreamArn"]
    return LocalInfrastructure(tables, queues, stream)
