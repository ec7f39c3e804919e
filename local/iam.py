"""IAM, checked the way AWS would: the recorded calls of each Lambda function against the
function's policy file, both ways.

moto authorizes everything; AWS authorizes each call against the function's role. These
pure functions evaluate what ``local/aws_calls.py`` recorded:

- every call a function made must be allowed by its policy (``denied``);
- every data-plane permission a policy grants must have been used by a recorded call of
  that function (``unused``), except the log actions and what the function's event source
  mappings need themselves (reading its queue or stream, sending to the stream's
  on-failure destination), which must match the mappings the template defines.

Only ``Allow`` statements with ``Action`` and ``Resource`` are used in this project's
policies; wildcards are IAM's (``*`` and ``?``, matching across ``:`` and ``/``).
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from typing import Any

#: Actions a Lambda event source mapping performs with the function's role.
SQS_MAPPING_ACTIONS = ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes")
STREAM_MAPPING_ACTIONS = ("dynamodb:DescribeStream", "dynamodb:GetRecords",
                          "dynamodb:GetShardIterator", "dynamodb:ListStreams")
ON_FAILURE_ACTIONS = ("sqs:SendMessage",)


@dataclass(frozen=True)
class Grant:
    """One action on one resource pattern, as a policy statement grants it."""

    sid: str
    action: str
    resource: str


@cache
def _pattern(glob: str) -> re.Pattern[str]:
    return re.compile("".join(".*" if c == "*" else "." if c == "?" else re.escape(c)
                              for c in glob), re.DOTALL)


def matches(glob: str, value: str, *, ignore_case: bool = False) -> bool:
    """IAM's wildcard match (actions ignore case, resources do not)."""
    if ignore_case:
        glob, value = glob.lower(), value.lower()
    return _pattern(glob).fullmatch(value) is not None


def _listed(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def grants(policy: dict[str, Any]) -> list[Grant]:
    """Every (action, resource) an IAM policy document allows."""
    found = []
    for index, statement in enumerate(policy["Statement"]):
        if statement.get("Effect") != "Allow":
            continue
        sid = statement.get("Sid", f"statement {index}")
        found += [Grant(sid, action, resource)
                  for action in _listed(statement["Action"])
                  for resource in _listed(statement["Resource"])]
    return found


def allowed(policy_grants: Iterable[Grant], action: str, resource: str) -> bool:
    """Whether any grant allows ``action`` on ``resource``."""
    return any(matches(g.action, action, ignore_case=True) and matches(g.resource, resource)
               for g in policy_grants)


def denied(function: str, calls: Iterable[tuple[str, str]],
           policy_grants: list[Grant]) -> list[str]:
    """The recorded (action, resource) calls of ``function`` its policy does not allow."""
    return [f"{function}: {action} on {resource} is not allowed by its policy"
            for action, resource in sorted(set(calls))
            if not allowed(policy_grants, action, resource)]


def unused(function: str, calls: Iterable[tuple[str, str]], policy_grants: list[Grant],
           mapping_grants: list[tuple[str, str]]) -> list[str]:
    """The grants of ``function``'s policy that no recorded call used and that its event
    source mappings do not need (log actions excepted)."""
    calls = set(calls)
    problems = []
    for grant in policy_grants:
        if grant.action.lower().startswith("logs:"):
            continue
        used = any(matches(grant.action, action, ignore_case=True)
                   and matches(grant.resource, resource) for action, resource in calls)
        needed = any(matches(grant.action, action, ignore_case=True)
                     and matches(grant.resource, resource) for action, resource in mapping_grants)
        if not (used or needed):
            problems.append(f"{function}: statement {grant.sid} grants {grant.action} on "
                            f"{grant.resource}, which no recorded call of {function} used "
                            "and none of its event source mappings needs")
    return problems


def mapping_grants(function_resource: dict[str, Any], resources: dict[str, Any],
                   parameters: dict[str, str], region: str,
                   account: str) -> list[tuple[str, str]]:
    """The (action, resource ARN) pairs a function's event source mappings use with its
    role, from the packaged template: its SQS queues, its stream and the stream's
    on-failure destination."""
    pairs: list[tuple[str, str]] = []
    events = function_resource.get("Properties", {}).get("Events", {})
    for event in events.values():
        properties = event.get("Properties", {})
        if event.get("Type") == "SQS":
            queue = _arn(properties["Queue"], resources, parameters, region, account)
            pairs += [(action, queue) for action in SQS_MAPPING_ACTIONS]
        elif event.get("Type") == "DynamoDB":
            stream = _arn(properties["Stream"], resources, parameters, region, account)
            pairs += [(action, stream) for action in STREAM_MAPPING_ACTIONS]
            destination = properties.get("DestinationConfig", {}).get("OnFailure", {}).get(
                "Destination")
            if destination is not None:
                target = _arn(destination, resources, parameters, region, account)
                pairs += [(action, target) for action in ON_FAILURE_ACTIONS]
    return pairs


def _arn(value: Any, resources: dict[str, Any], parameters: dict[str, str], region: str,
         account: str) -> str:
    """The ARN a template value names: ``Fn::Sub`` with pseudo parameters, or
    ``Fn::GetAtt`` of a queue's Arn or a table's StreamArn."""
    names = {"AWS::Partition": "aws", "AWS::Region": region, "AWS::AccountId": account,
             **parameters}
    if isinstance(value, str):
        return value
    if "Fn::Sub" in value:
        text = value["Fn::Sub"]
        for name, replacement in names.items():
            text = text.replace("${" + name + "}", replacement)
        return str(text)
    if "Fn::GetAtt" in value:
        logical, attribute = value["Fn::GetAtt"]
        properties = resources[logical]["Properties"]
        if attribute == "Arn" and resources[logical]["Type"] == "AWS::SQS::Queue":
            name = _arn(properties["QueueName"], resources, parameters, region, account)
            return f"arn:aws:sqs:{region}:{account}:{name}"
        if attribute == "StreamArn":
            table = _arn(properties["TableName"], resources, parameters, region, account)
            # the stream's label is a timestamp known only once the table exists
            return f"arn:aws:dynamodb:{region}:{account}:table/{table}/stream/*"
    raise ValueError(f"cannot resolve {value!r} to an ARN")
