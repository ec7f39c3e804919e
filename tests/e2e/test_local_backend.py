"""The embedded moto backend applies concurrent DynamoDB transactions atomically, as AWS does.

moto on its own restores a table copy when a transaction fails, which undoes the writes of
transactions that ran meanwhile; the plan limits rest on transactions, so the local stack
serializes DynamoDB requests. This test fails against moto's plain threaded server.
"""
from __future__ import annotations

import threading

import boto3
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
