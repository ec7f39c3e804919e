"""What IAM authorizes an AWS call against, and the policy check both ways (pure logic)."""
from __future__ import annotations

from local import iam
from local.aws_calls import authorizations, queue_arn, table_arn

POLICY = {"Version": "2012-10-17", "Statement": [
    {"Sid": "Logs", "Effect": "Allow", "Action": ["logs:PutLogEvents"],
     "Resource": "arn:aws:logs:*:*:*"},
    {"Sid": "Webhooks", "Effect": "Allow", "Action": ["dynamodb:GetItem", "dynamodb:Query"],
     "Resource": "arn:aws:dynamodb:*:*:table/p-webhooks"},
    {"Sid": "Index", "Effect": "Allow", "Action": "dynamodb:Query",
     "Resource": ["arn:aws:dynamodb:*:*:table/p-webhooks/index/active_by_event"]},
    {"Sid": "Consume", "Effect": "Allow", "Action": ["sqs:ReceiveMessage"],
     "Resource": "arn:aws:sqs:*:*:p-deliveries"},
]}


def test_a_transaction_is_authorized_per_item_action_and_table() -> None:
    pairs = authorizations("dynamodb", "TransactWriteItems", {"TransactItems": [
        {"Put": {"TableName": "p-webhooks", "Item": {}}},
        {"Update": {"TableName": "p-webhooks", "Key": {}}},
        {"ConditionCheck": {"TableName": "p-companies", "Key": {}}},
        {"Delete": {"TableName": "p-tokens", "Key": {}}},
    ]})
    assert pairs == [("dynamodb:PutItem", table_arn("p-webhooks")),
                     ("dynamodb:UpdateItem", table_arn("p-webhooks")),
                     ("dynamodb:ConditionCheckItem", table_arn("p-companies")),
                     ("dynamodb:DeleteItem", table_arn("p-tokens"))]


def test_a_query_on_an_index_needs_the_index_arn() -> None:
    assert authorizations("dynamodb", "Query", {"TableName": "p-webhooks",
                                                "IndexName": "active_by_event"}) == \
        [("dynamodb:Query", table_arn("p-webhooks", "active_by_event"))]


def test_batch_calls_need_their_tables_and_the_single_sqs_action() -> None:
    assert authorizations("dynamodb", "BatchGetItem", {"RequestItems": {"a": {}, "b": {}}}) \
        == [("dynamodb:BatchGetItem", table_arn("a")), ("dynamodb:BatchGetItem", table_arn("b"))]
    url = "http://127.0.0.1:8001/123456789012/p-deliveries-slow"
    assert authorizations("sqs", "SendMessageBatch", {"QueueUrl": url, "Entries": []}) == \
        [("sqs:SendMessage", queue_arn("p-deliveries-slow"))]
    assert authorizations("sqs", "ChangeMessageVisibilityBatch", {"QueueUrl": url}) == \
        [("sqs:ChangeMessageVisibility", queue_arn("p-deliveries-slow"))]
    assert authorizations("sqs", "GetQueueUrl", {"QueueName": "p-deliveries"}) == \
        [("sqs:GetQueueUrl", queue_arn("p-deliveries"))]


def test_wildcards_match_as_iam_does() -> None:
    assert iam.matches("arn:aws:dynamodb:*:*:table/p-webhooks", table_arn("p-webhooks"))
    assert not iam.matches("arn:aws:dynamodb:*:*:table/p-webhooks",
                           table_arn("p-webhooks", "active_by_event"))
    assert not iam.matches("arn:aws:dynamodb:*:*:table/p-webhooks", table_arn("p-webhooks2"))
    assert iam.matches("dynamodb:getitem", "dynamodb:GetItem", ignore_case=True)
    assert iam.matches("sqs:*", "sqs:SendMessage", ignore_case=True)


def test_a_call_the_policy_does_not_allow_is_named() -> None:
    grants = iam.grants(POLICY)
    calls = [("dynamodb:GetItem", table_arn("p-webhooks")),
             ("dynamodb:UpdateItem", table_arn("p-webhooks")),
             ("dynamodb:Query", table_arn("p-webhooks", "active_by_event"))]
    assert iam.denied("deliver", calls, grants) == [
        f"deliver: dynamodb:UpdateItem on {table_arn('p-webhooks')} is not allowed by its policy"]


def test_a_grant_no_call_used_is_named_unless_a_mapping_needs_it() -> None:
    grants = iam.grants(POLICY)
    calls = [("dynamodb:GetItem", table_arn("p-webhooks")),
             ("dynamodb:Query", table_arn("p-webhooks", "active_by_event"))]
    problems = iam.unused("f", calls, grants, [("sqs:ReceiveMessage", queue_arn("p-deliveries"))])
    assert len(problems) == 1
    assert "grants dynamodb:Query on arn:aws:dynamodb:*:*:table/p-webhooks," in problems[0]
    # a mapping on another queue does not excuse reading this one
    problems = iam.unused("f", calls, grants, [("sqs:ReceiveMessage", queue_arn("p-other"))])
    assert any("sqs:ReceiveMessage" in p for p in problems)


def test_mapping_permissions_come_from_the_templates_event_sources() -> None:
    resources = {
        "Fn": {"Properties": {"Events": {
            "Stream": {"Type": "DynamoDB", "Properties": {
                "Stream": {"Fn::GetAtt": ["Table", "StreamArn"]},
                "DestinationConfig": {"OnFailure": {"Destination": {
                    "Fn::GetAtt": ["Failures", "Arn"]}}}}},
            "Queue": {"Type": "SQS", "Properties": {
                "Queue": {"Fn::Sub": "arn:${AWS::Partition}:sqs:${AWS::Region}:"
                                     "${AWS::AccountId}:p-deliveries"}}}}}},
        "Table": {"Type": "AWS::DynamoDB::Table",
                  "Properties": {"TableName": {"Fn::Sub": "${TablePrefix}-resources"}}},
        "Failures": {"Type": "AWS::SQS::Queue",
                     "Properties": {"QueueName": {"Fn::Sub": "${TablePrefix}-failures"}}},
    }
    pairs = iam.mapping_grants(resources["Fn"], resources, {"TablePrefix": "p"}, "r", "1")
    assert ("dynamodb:GetRecords", "arn:aws:dynamodb:r:1:table/p-resources/stream/*") in pairs
    assert ("sqs:SendMessage", "arn:aws:sqs:r:1:p-failures") in pairs
    assert ("sqs:ReceiveMessage", "arn:aws:sqs:r:1:p-deliveries") in pairs
    assert ("sqs:SendMessage", "arn:aws:sqs:r:1:p-deliveries") not in pairs
