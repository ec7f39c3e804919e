"""The embedded moto backend applies concurrent DynamoDB transactions atomically, as AWS does.

moto on its own restores a table copy when a transaction fails, which undoes the writes of
transactions that ran meanwhile; the plan limits rest on transactions, so the local stack
serializes DynamoDB requests. This test fails against moto's plain threaded server.
"""
from __future__ import annotations

import threading
from typing import Any

import boto3
import pytest
from botocore.config import Config

from local.aws_backend import MotoBackend
from local.infra import create_tables


def test_concurrent_transactions_lose_no_writes() -> None:
    backend = MotoBackend().start()
    try:
        client = boto3.client(
            "dynamodb", endpoint_url=backend.endpoint, region_name="eu-central-1",
            aws_access_key_id="local", aws_secret_access_key="local",
            config=Config(account_id_endpoint_mode="disabled", max_pool_connections=50,
                          retries={"max_attempts": 0}))
        (table,) = [t for t in create_tables(client, "race") if t.endswith("-counters")]
        succeeded: list[int] = []
        start = threading.Barrier(30)

        def work(thread: int) -> None:
            start.wait()
            for round_ in range(8):
                try:
                    client.transact_write_items(TransactItems=[
                        {"Update": {"TableName": table, "Key": {"name": {"S": "quota"}},
                                    "UpdateExpression": "ADD #v :one",
                                    "ExpressionAttributeNames": {"#v": "value"},
                                    "ExpressionAttributeValues": {":one": {"N": "1"}}}},
                        {"Put": {"TableName": table,
                                 "Item": {"name": {"S": f"item-{thread}-{round_}"}},
                                 "ConditionExpression": "attribute_not_exists(#n)",
                                 "ExpressionAttributeNames": {"#n": "name"}}},
                    ])
                    succeeded.append(1)
                except client.exceptions.TransactionCanceledException:
                    pass
                try:  # a transaction that fails: moto restores its copy of the table
                    client.transact_write_items(TransactItems=[{"Put": {
                        "TableName": table, "Item": {"name": {"S": "quota"}},
                        "ConditionExpression": "attribute_not_exists(#n)",
                        "ExpressionAttributeNames": {"#n": "name"}}}])
                except client.exceptions.TransactionCanceledException:
                    pass

        threads = [threading.Thread(target=work, args=(i,)) for i in range(30)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        counter = client.get_item(TableName=table, Key={"name": {"S": "quota"}})["Item"]
        items = client.scan(TableName=table, Select="COUNT")["Count"] - 1
        assert len(succeeded) == 240
        assert int(counter["value"]["N"]) == items == len(succeeded)
    finally:
        backend.stop()


def test_the_backend_counts_calls_by_the_function_that_made_them() -> None:
    """``make bench`` counts the pipeline's calls per delivery from these counts: a call
    is the function's whose code made it, and the set-up's (like an event source
    mapping's) is no function's."""
    import json
    import urllib.request

    from chalicelib import observability
    from local import aws_calls

    backend = MotoBackend().start()
    try:
        session = boto3.session.Session(aws_access_key_id="local",
                                        aws_secret_access_key="local",
                                        region_name="eu-central-1")
        aws_calls.label(session)
        client = session.client("dynamodb", endpoint_url=backend.endpoint,
                                config=Config(account_id_endpoint_mode="disabled"))
        (table,) = [t for t in create_tables(client, "label") if t.endswith("-counters")]
        with observability.running("deliver_notifications"):
            client.get_item(TableName=table, Key={"name": {"S": "x"}})
            client.get_item(TableName=table, Key={"name": {"S": "y"}})
        client.get_item(TableName=table, Key={"name": {"S": "z"}})
        with urllib.request.urlopen(backend.endpoint + "/_local/calls") as response:
            counts = json.loads(response.read())
        assert counts[f"deliver_notifications GetItem {table}"] == 2
        assert counts[f"- GetItem {table}"] == 1
    finally:
        backend.stop()


def test_a_cancelled_transaction_leaves_items_and_the_stream_as_they_were() -> None:
    """The backend undoes a cancelled transaction item by item (moto alone copies whole
    tables for it): what it wrote is put back, what it created is gone, and the table's
    stream has no record of it; a transaction that goes through is written and streamed."""
    backend = MotoBackend().start()
    try:
        session = boto3.session.Session(aws_access_key_id="local",
                                        aws_secret_access_key="local",
                                        region_name="eu-central-1")
        config = Config(account_id_endpoint_mode="disabled")
        client = session.client("dynamodb", endpoint_url=backend.endpoint, config=config)
        streams = session.client("dynamodbstreams", endpoint_url=backend.endpoint,
                                 config=config)
        (table,) = [t for t in create_tables(client, "undo") if t.endswith("-resources")]

        def key(sk: str) -> dict[str, Any]:
            return {"company_id": {"N": "1"}, "sk": {"S": sk}}

        def streamed() -> int:
            arn = client.describe_table(TableName=table)["Table"]["LatestStreamArn"]
            total = 0
            for shard in streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
                iterator = streams.get_shard_iterator(
                    StreamArn=arn, ShardId=shard["ShardId"],
                    ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
                total += len(streams.get_records(ShardIterator=iterator)["Records"])
            return total

        def update(sk: str, value: str, condition: str | None = None) -> dict[str, Any]:
            action: dict[str, Any] = {
                "TableName": table, "Key": key(sk), "UpdateExpression": "SET v = :v",
                "ExpressionAttributeValues": {":v": {"S": value}}}
            if condition:
                action["ConditionExpression"] = condition
            return {"Update": action}

        client.put_item(TableName=table, Item={**key("a"), "v": {"S": "before"}})
        assert streamed() == 1
        with pytest.raises(client.exceptions.TransactionCanceledException):
            client.transact_write_items(TransactItems=[
                update("a", "changed"), update("b", "created"),
                update("c", "never", "attribute_exists(v)")])
        assert client.get_item(TableName=table, Key=key("a"))["Item"]["v"] == {"S": "before"}
        assert "Item" not in client.get_item(TableName=table, Key=key("b"))
        assert streamed() == 1
        client.transact_write_items(TransactItems=[update("a", "after"), update("b", "new")])
        assert client.get_item(TableName=table, Key=key("a"))["Item"]["v"] == {"S": "after"}
        assert streamed() >= 3  # moto streams an update that creates an item twice
    finally:
        backend.stop()


def test_a_query_reads_only_its_partition_and_sees_every_write() -> None:
    """moto alone looks at every item of a table for each query; the backend reads the
    queried partition (of the table, or of an index, whose map it makes again after a
    write to the table) and answers exactly what moto answers."""
    from local import aws_backend

    backend = MotoBackend().start()
    try:
        client = boto3.client(
            "dynamodb", endpoint_url=backend.endpoint, region_name="eu-central-1",
            aws_access_key_id="local", aws_secret_access_key="local",
            config=Config(account_id_endpoint_mode="disabled"))
        tables = create_tables(client, "parts")
        (webhooks,) = [t for t in tables if t.endswith("-webhooks")]
        (other,) = [t for t in tables if t.endswith("-counters")]
        index = f"{webhooks}/active_by_event"

        def put(company: int, hook: int, event: str) -> None:
            client.put_item(TableName=webhooks, Item={
                "company_id": {"N": str(company)}, "sk": {"S": f"webhook#{hook:05d}"},
                "webhook_id": {"N": str(hook)}, "active_key": {"S": f"{company}#{event}"}})

        def active(company: int, event: str) -> list[int]:
            found = client.query(TableName=webhooks, IndexName="active_by_event",
                                 KeyConditionExpression="active_key = :k",
                                 ExpressionAttributeValues={":k": {"S": f"{company}#{event}"}})
            return [int(i["webhook_id"]["N"]) for i in found["Items"]]

        def of_company(company: int) -> list[str]:
            found = client.query(TableName=webhooks, KeyConditionExpression="company_id = :c",
                                 ExpressionAttributeValues={":c": {"N": str(company)}})
            return [i["sk"]["S"] for i in found["Items"]]

        for hook in (3, 1, 2):
            put(1, hook, "customer.created")
        for hook in range(100, 300):
            put(hook, hook, "entry.created")
        passes = aws_backend.index_passes[index]
        assert sorted(active(1, "customer.created")) == [1, 2, 3]
        assert active(1, "customer.created") and active(150, "entry.created") == [150]
        assert aws_backend.index_passes[index] == passes + 1  # one map for three queries
        client.put_item(TableName=other, Item={"name": {"S": "elsewhere"}})
        assert active(1, "entry.created") == []
        assert aws_backend.index_passes[index] == passes + 1  # another table's write
        # an update in place moves an item between partitions of the index
        client.update_item(TableName=webhooks, Key={"company_id": {"N": "1"},
                                                    "sk": {"S": "webhook#00002"}},
                           UpdateExpression="SET active_key = :k",
                           ExpressionAttributeValues={":k": {"S": "1#entry.created"}})
        assert sorted(active(1, "customer.created")) == [1, 3]
        assert active(1, "entry.created") == [2]
        client.delete_item(TableName=webhooks, Key={"company_id": {"N": "1"},
                                                    "sk": {"S": "webhook#00003"}})
        assert active(1, "customer.created") == [1]
        assert of_company(1) == ["webhook#00001", "webhook#00002"]  # in key order
        assert of_company(150) == ["webhook#00150"]
        assert aws_backend.index_passes[index] == passes + 3
    finally:
        backend.stop()
