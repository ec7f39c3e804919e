"""Recording every AWS call each Lambda function makes, for the IAM test.

moto checks no IAM, so a call that the function's policy does not allow passes every local
test and fails on AWS. While the tests run, botocore's event system reports each call the
service's code makes; the call is attributed to the Lambda function whose code runs in
that context (``chalicelib.observability.running``, which worker threads inherit), turned
into the IAM actions and resource ARNs AWS would authorize it against, and appended to a
JSON-lines file (``LOCAL_AWS_CALL_LOG``). Calls made outside any function (the local
stack's own pollers, which play Lambda's event source mappings, and test set-up) are not
recorded. ``tests/test_iam_policies.py`` then checks them against the policy files.

``authorizations`` is pure: it maps one API call to what IAM checks, as AWS documents it
(transactions per item action, queries on an index against the index ARN, batch SQS calls
against the single action).
"""
from __future__ import annotations

import json
import os
import threading
from typing import Any
from urllib.parse import urlsplit

ENVIRONMENT_VARIABLE = "LOCAL_AWS_CALL_LOG"
REGION = "eu-central-1"
ACCOUNT = "123456789012"

_BATCH_SQS = {"SendMessageBatch": "SendMessage", "DeleteMessageBatch": "DeleteMessage",
              "ChangeMessageVisibilityBatch": "ChangeMessageVisibility"}
_TRANSACT_ITEMS = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem",
                   "ConditionCheck": "ConditionCheckItem", "Get": "GetItem"}


def table_arn(table: str, index: str | None = None) -> str:
    arn = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{table}"
    return f"{arn}/index/{index}" if index else arn


def queue_arn(queue: str) -> str:
    return f"arn:aws:sqs:{REGION}:{ACCOUNT}:{queue}"


def authorizations(service: str, operation: str,
                   params: dict[str, Any]) -> list[tuple[str, str]]:
    """The (IAM action, resource ARN) pairs AWS authorizes one API call against."""
    if service == "dynamodb":
        return _dynamodb(operation, params)
    if service == "sqs":
        action = "sqs:" + _BATCH_SQS.get(operation, operation)
        if "QueueName" in params:
            return [(action, queue_arn(params["QueueName"]))]
        if "QueueUrl" in params:
            return [(action, queue_arn(urlsplit(params["QueueUrl"]).path.rsplit("/", 1)[-1]))]
        return [(action, "*")]
    return [(f"{service}:{operation}", "*")]


def _dynamodb(operation: str, params: dict[str, Any]) -> list[tuple[str, str]]:
    if operation in ("TransactWriteItems", "TransactGetItems"):
        pairs = []
        for item in params.get("TransactItems", []):
            ((kind, body),) = item.items()
            pairs.append(("dynamodb:" + _TRANSACT_ITEMS[kind], table_arn(body["TableName"])))
        return pairs
    if operation in ("BatchGetItem", "BatchWriteItem"):
        return [(f"dynamodb:{operation}", table_arn(table))
                for table in params.get("RequestItems", {})]
    if "TableName" in params:
        return [(f"dynamodb:{operation}",
                 table_arn(params["TableName"], params.get("IndexName")))]
    return [(f"dynamodb:{operation}", "*")]


class Recorder:
    """Appends each new (function, action, resource) to a JSON-lines file."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._seen: set[tuple[str, str, str]] = set()
        self._lock = threading.Lock()

    def __call__(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        from chalicelib import observability

        function = observability.current_function()
        if function is None:
            return
        service = model.service_model.service_name
        new = []
        for action, resource in authorizations(service, model.name, params):
            key = (function, action, resource)
            with self._lock:
                if key in self._seen:
                    continue
                self._seen.add(key)
            new.append(key)
        if new:
            lines = "".join(json.dumps({"function": f, "action": a, "resource": r}) + "\n"
                            for f, a, r in new)
            with self._lock, open(self.path, "a", encoding="utf-8") as out:
                out.write(lines)


def install(session: Any, path: str | None = None) -> Recorder | None:
    """Record the calls of every client the boto3 ``session`` creates from now on, to
    ``path`` (default: ``$LOCAL_AWS_CALL_LOG``; nothing is recorded when neither is set)."""
    path = path or os.environ.get(ENVIRONMENT_VARIABLE)
    if not path:
        return None
    recorder = Recorder(path)
    # provide-client-params carries the parameters as the code passed them.
    session.events.register("provide-client-params.*.*", recorder)
    return recorder


def read(path: str) -> list[dict[str, str]]:
    """Every call recorded in ``path`` (several processes may have appended to it)."""
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]


#: The header that names, for the embedded backend's call counts, the Lambda function
#: whose code made a call (``local/aws_backend.py``).
FUNCTION_HEADER = "X-Local-Function"


def label(session: Any) -> None:
    """Name the function making each call of the boto3 ``session``'s clients in a header
    of the request, so that the embedded backend counts calls per function (the local
    stack runs every function, and Lambda's event source mappings, in one process)."""
    def add_header(request: Any, **_: Any) -> None:
        from chalicelib import observability

        function = observability.current_function()
        if function is not None:
            request.headers[FUNCTION_HEADER] = function

    session.events.register("request-created.*.*", add_header)
