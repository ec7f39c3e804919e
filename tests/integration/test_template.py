"""`chalice package --merge-template` yields one deployable template with everything in it."""
from __future__ import annotations

import json
from typing import Any

import pytest

from local.infra import table_definitions
from tests.conftest import ROOT


def test_the_template_has_the_tables_the_local_stack_creates(packaged: dict[str, Any]) -> None:
    tables = {r["Properties"]["TableName"]["Fn::Sub"].replace("${TablePrefix}", "p"): r
              for r in packaged["Resources"].values() if r["Type"] == "AWS::DynamoDB::Table"}
    local = {definition["TableName"]: definition for definition, _ in table_definitions("p")}
    assert set(tables) == set(local) == {"p-counters", "p-companies", "p-api_keys",
                                         "p-webhooks", "p-resources", "p-deliveries",
                                         "p-rate_limits"}
    for name, definition in local.items():
        properties = tables[name]["Properties"]
        assert properties["KeySchema"] == definition["KeySchema"]
        assert properties.get("GlobalSecondaryIndexes") == \
            definition.get("GlobalSecondaryIndexes")
    (index,) = tables["p-webhooks"]["Properties"]["GlobalSecondaryIndexes"]
    assert index["IndexName"] == "active_by_event"
    assert tables["p-resources"]["Properties"]["StreamSpecification"] == \
        {"StreamViewType": "NEW_AND_OLD_IMAGES"}
    assert tables["p-deliveries"]["Properties"]["TimeToLiveSpecification"] == \
        {"AttributeName": "expires_at", "Enabled": True}
    # recovery jobs expire (``ttl``, which no webhook item has)
    assert tables["p-webhooks"]["Properties"]["TimeToLiveSpecification"] == \
        {"AttributeName": "ttl", "Enabled": True}


def test_the_event_sources_report_partial_failures(packaged: dict[str, Any]) -> None:
    resources = packaged["Resources"]
    stream = resources["FanOutChanges"]["Properties"]["Events"][
        "FanOutChangesDynamodbEventSource"]["Properties"]
    assert stream["Stream"] == {"Fn::GetAtt": ["ResourcesTable", "StreamArn"]}
    assert stream["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert stream["BisectBatchOnFunctionError"] is True
    assert stream["MaximumRetryAttempts"] > 0
    assert stream["DestinationConfig"]["OnFailure"]["Destination"] == \
        {"Fn::GetAtt": ["FanOutFailureQueue", "Arn"]}
    for function, queue_name, logical in (
            ("DeliverNotifications", "deliveries", "DeliveryQueue"),
            ("DeliverBursts", "deliveries-bursts", "BurstDeliveryQueue"),
            ("DeliverToFailingEndpoints", "deliveries-slow", "SlowDeliveryQueue")):
        queue = resources[function]["Properties"]["Events"][
            f"{function}SqsEventSource"]["Properties"]
        assert queue["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
        assert queue["Queue"]["Fn::Sub"].endswith(f":clockodo-webhooks-prod-{queue_name}")
        # AWS: a batch larger than 10 needs a batching window; the queue hides a message
        # for at least 6 times the function's timeout plus that window
        window = queue.get("MaximumBatchingWindowInSeconds", 0)
        assert queue["BatchSize"] <= 10 or window >= 1
        assert resources[logical]["Properties"]["VisibilityTimeout"] >= \
            6 * resources[function]["Properties"]["Timeout"] + window
    delivery_queue = resources["DeliveryQueue"]["Properties"]
    assert delivery_queue["RedrivePolicy"]["deadLetterTargetArn"] == \
        {"Fn::GetAtt": ["DeliveryDeadLetterQueue", "Arn"]}
    # the queue hides a message for longer than the function may run
    timeout = resources["DeliverNotifications"]["Properties"]["Timeout"]
    assert delivery_queue["VisibilityTimeout"] >= 6 * timeout


def _statements(packaged: dict[str, Any], role: str) -> dict[str, dict[str, Any]]:
    (policy,) = packaged["Resources"][role]["Properties"]["Policies"]
    return {s["Sid"]: s for s in policy["PolicyDocument"]["Statement"]}


def _resources_of(statement: dict[str, Any]) -> list[str]:
    found = statement["Resource"]
    return [found] if isinstance(found, str) else found


@pytest.mark.parametrize("role", ["ApiHandlerRole", "FanOutChangesRole",
                                  "DeliverNotificationsRole", "DeliverBurstsRole",
                                  "DeliverToFailingEndpointsRole"])
def test_each_function_has_an_explicit_least_privilege_policy(packaged: dict[str, Any],
                                                              role: str) -> None:
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    assert config["autogen_policy"] is False
    statements = _statements(packaged, role)
    for sid, statement in statements.items():
        assert all(not a.endswith(":*") for a in statement["Action"]), sid
        assert "dynamodb:Scan" not in statement["Action"]
        if sid != "Logs":
            assert all(r.startswith(("arn:aws:dynamodb:*:*:table/clockodo-webhooks-prod-",
                                     "arn:aws:sqs:*:*:clockodo-webhooks-prod-"))
                       for r in _resources_of(statement)), sid


def test_policies_give_each_function_only_its_own_work(packaged: dict[str, Any]) -> None:
    """Spot checks; tests/test_iam_policies.py proves the policies against every call."""
    def actions(role: str) -> set[str]:
        return {a for s in _statements(packaged, role).values() for a in s["Action"]}

    assert "sqs:ReceiveMessage" not in actions("ApiHandlerRole")
    assert "sqs:ReceiveMessage" not in actions("FanOutChangesRole")
    assert "dynamodb:PutItem" not in actions("FanOutChangesRole")
    assert "dynamodb:GetRecords" not in actions("DeliverNotificationsRole")
    moves = _statements(packaged, "DeliverNotificationsRole")["MoveToSlowLane"]
    assert _resources_of(moves) == ["arn:aws:sqs:*:*:clockodo-webhooks-prod-deliveries-slow"]
    assert "MoveToSlowLane" not in _statements(packaged, "DeliverToFailingEndpointsRole")
    (index,) = _resources_of(_statements(packaged, "FanOutChangesRole")["FindActiveWebhooks"])
    assert index.endswith("-webhooks/index/active_by_event")


def test_api_gateway_errors_use_the_error_format(packaged: dict[str, Any]) -> None:
    responses = packaged["Resources"]["RestAPI"]["Properties"]["GatewayResponses"]
    for kind in ("DEFAULT_4XX", "DEFAULT_5XX"):
        template = responses[kind]["ResponseTemplates"]["application/json"]
        assert template.startswith('{"errors": [{"type": ')


def test_an_unknown_route_is_a_404_in_the_error_format(packaged: dict[str, Any]) -> None:
    response = packaged["Resources"]["RestAPI"]["Properties"]["GatewayResponses"][
        "MISSING_AUTHENTICATION_TOKEN"]
    assert response["StatusCode"] == "404"
    body = json.loads(response["ResponseTemplates"]["application/json"])
    assert body["errors"][0]["type"] == "NotFound"


def test_the_api_is_throttled_and_keeps_its_own_concurrency(packaged: dict[str, Any]) -> None:
    resources = packaged["Resources"]
    (settings,) = resources["RestAPI"]["Properties"]["MethodSettings"]
    assert (settings["ResourcePath"], settings["HttpMethod"]) == ("/*", "*")
    assert settings["ThrottlingRateLimit"] == {"Ref": "ApiThrottlingRateLimit"}
    assert settings["ThrottlingBurstLimit"] == {"Ref": "ApiThrottlingBurstLimit"}
    assert resources["APIHandler"]["Properties"]["ReservedConcurrentExecutions"] > 0


def test_the_active_index_projects_keys_only(packaged: dict[str, Any]) -> None:
    (index,) = packaged["Resources"]["WebhooksTable"]["Properties"]["GlobalSecondaryIndexes"]
    assert index["Projection"] == {"ProjectionType": "KEYS_ONLY"}


def _alarms(packaged: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: resource["Properties"] for name, resource in packaged["Resources"].items()
            if resource["Type"] == "AWS::CloudWatch::Alarm"}


def test_alarms_watch_what_can_go_wrong_and_notify_the_topic(packaged: dict[str, Any]) -> None:
    alarms = _alarms(packaged)
    watched = {(a["Namespace"], a["MetricName"], json.dumps(a["Dimensions"][0]["Value"]))
               for a in alarms.values()}
    queue = lambda name: json.dumps({"Fn::GetAtt": [name, "QueueName"]})  # noqa: E731
    function = lambda name: json.dumps({"Ref": name})  # noqa: E731
    assert ("AWS/SQS", "ApproximateNumberOfMessagesVisible",
            queue("DeliveryDeadLetterQueue")) in watched
    assert ("AWS/SQS", "ApproximateNumberOfMessagesVisible",
            queue("FanOutFailureQueue")) in watched
    assert ("AWS/Lambda", "IteratorAge", function("FanOutChanges")) in watched
    for name in ("DeliveryQueue", "BurstDeliveryQueue", "SlowDeliveryQueue"):
        assert ("AWS/SQS", "ApproximateAgeOfOldestMessage", queue(name)) in watched
    for name in ("APIHandler", "FanOutChanges", "DeliverNotifications", "DeliverBursts",
                 "DeliverToFailingEndpoints", "RecordDeadLetters", "RunRecoveries"):
        for metric in ("Errors", "Throttles"):
            assert ("AWS/Lambda", metric, function(name)) in watched
    age = alarms["FanOutIteratorAgeAlarm"]
    assert (age["Threshold"], age["ComparisonOperator"]) == (300000, "GreaterThanThreshold")
    assert alarms["DeliveryQueueAgeAlarm"]["Threshold"] == 900
    for alarm in alarms.values():
        assert alarm["AlarmActions"] == [{"Ref": "AlarmTopic"}]
    subscription = packaged["Resources"]["AlarmEmailSubscription"]
    assert subscription["Properties"]["Endpoint"] == {"Ref": "AlarmEmail"}
    assert subscription["Properties"]["Protocol"] == "email"


def test_the_readme_runbook_covers_every_alarm(packaged: dict[str, Any]) -> None:
    readme = (ROOT / "README.md").read_text()
    for name in _alarms(packaged):
        generic = name
        for function in ("APIHandler", "FanOutChanges", "DeliverNotifications",
                         "DeliverBursts", "DeliverToFailingEndpoints", "RecordDeadLetters",
                         "RunRecoveries"):
            generic = generic.replace(function, "<Function>")
        assert f"`{name}`" in readme or f"`{generic}`" in readme, name
