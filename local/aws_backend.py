"""The embedded AWS backend: moto's server, in-process, on loopback.

moto applies a DynamoDB transaction by copying the tables, writing, and restoring the copy
when a condition fails; two transactions running at once in moto's threaded server can
therefore undo each other's writes. Real DynamoDB applies each request atomically, so this
backend serializes DynamoDB requests to behave the same. Other services (SQS long polls)
run concurrently.

moto also copies each table a transaction touches once per action, so a transaction's cost
grows with the tables' size (a batch's claims in a log of thousands of deliveries took
seconds, and the copies' garbage kept the process from exiting); DynamoDB's cost grows with
the items written. With requests serialized, this backend keeps copies of the items a
transaction touches (and the length of the table's stream) instead, and puts them back
when it is cancelled (``item_level_rollback``).
"""
from __future__ import annotations

import copy
import io
import json
import threading
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import BaseWSGIServer, make_server

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class SerializedDynamoDB:
    """WSGI middleware: one DynamoDB request at a time, everything else as it comes.

    It also counts the AWS calls it serves by the function that made them (the
    ``X-Local-Function`` header, ``local.aws_calls.label``; none for the event source
    mappings' own calls and the set-up), action and table or queue (and, for an item of
    ``rate_limits``, the kind of counter: ``user``, ``endpoint``, ``company``…), for the
    benchmark: ``GET /_local/calls`` answers the counts, ``DELETE /_local/calls`` resets
    them.
    """

    def __init__(self, app: WsgiApp) -> None:
        self._app = app
        self._lock = threading.Lock()
        self._count_lock = threading.Lock()
        self.calls: Counter[str] = Counter()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if environ.get("PATH_INFO") == "/_local/calls":
            return self._calls(environ, start_response)
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        action, request = self._count(environ, target)
        if not target.startswith("DynamoDB_"):
            return self._app(environ, start_response)
        with self._lock:
            _serialized.active = True
            try:
                return list(self._app(environ, start_response))
            finally:
                _serialized.active = False
                if target.startswith("DynamoDB_2012") and action not in _READS:
                    _note_write(request)

    def _count(self, environ: dict[str, Any], target: str) -> tuple[str, dict[str, Any]]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        try:
            request = json.loads(body) if body.startswith(b"{") else {}
        except ValueError:
            request = {}
        action = target.rsplit(".", 1)[-1] or environ.get("QUERY_STRING", "")
        where = request.get("TableName") or request.get("QueueUrl", "").rsplit("/", 1)[-1] \
            or ",".join(sorted(request.get("RequestItems", {}))) or ""
        if request.get("IndexName"):
            where += "/" + request["IndexName"]
        bucket = request.get("Key", {}).get("bucket", {}).get("S")
        if isinstance(bucket, str):  # a rate_limits item: say which kind of counter
            where += " " + bucket.split("#", 1)[0]
        function = environ.get("HTTP_X_LOCAL_FUNCTION", "-")
        with self._count_lock:
            self.calls[f"{function} {action} {where}".strip()] += 1
        return action, request

    def _calls(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        with self._count_lock:
            if environ.get("REQUEST_METHOD") == "DELETE":
                self.calls.clear()
            payload = json.dumps(dict(self.calls)).encode()
        start_response("200 OK", [("Content-Type", "application/json"),
                                  ("Content-Length", str(len(payload)))])
        return [payload]


#: DynamoDB actions that write nothing; every other one counts as a write of its tables.
_READS = frozenset({"GetItem", "BatchGetItem", "Query", "Scan", "TransactGetItems",
                    "DescribeTable", "ListTables", "DescribeTimeToLive", "ListTagsOfResource",
                    "DescribeContinuousBackups", "DescribeLimits", "DescribeEndpoints"})
#: Whether this thread serves a DynamoDB request now, under ``SerializedDynamoDB``'s lock
#: (only then are the writes counted and ``indexed_queries``' index maps kept current).
_serialized = threading.local()
#: The writes each table has seen (by name), and those of unknown tables (``_epoch``).
_writes: Counter[str] = Counter()
_epoch = [0]
#: How many times an index's map of partitions was made (a pass over its table).
index_passes = Counter[str]()


def _note_write(request: dict[str, Any]) -> None:
    tables = {request.get("TableName")} | set(request.get("RequestItems", {})) | {
        op.get("TableName") for entry in request.get("TransactItems", [])
        for op in entry.values() if isinstance(op, dict)}
    tables.discard(None)
    if not tables:
        _epoch[0] += 1
    for table in tables:
        _writes[str(table)] += 1


def indexed_queries() -> None:
    """Make moto's ``Query`` read what DynamoDB reads: the queried partition, not the
    whole table. moto looks at (and sorts) every item of the table for each query, so the
    local fan-out slowed down 11 times beside 100,000 other webhooks while DynamoDB reads
    the same one item. A query of the table itself reads its partition from moto's own
    map; a query of an index reads a map of the index's partitions, made once after each
    write to the table (``SerializedDynamoDB`` counts them), as DynamoDB keeps its
    indexes. Only queries served under the backend's lock use this. Idempotent."""
    import inspect

    from moto.dynamodb.models.table import Table

    if getattr(Table.query, "indexed", False):
        return
    original = Table.query
    signature = inspect.signature(original)
    maps: dict[tuple[int, str, tuple[str, ...]], tuple[Any, tuple[int, int], Any]] = {}

    def partition(table: Any, index_name: str, names: tuple[str, ...],
                  values: tuple[Any, ...]) -> list[Any]:
        key = (id(table), index_name, names)
        generation = (_epoch[0], _writes[table.name])
        known = maps.get(key)
        if known is None or known[0] is not table or known[1] != generation:
            by_values: dict[tuple[Any, ...], list[Any]] = {}
            for hash_set in table.items.values():
                for item in (hash_set.values() if table.range_key_attr else [hash_set]):
                    found = tuple(item.attrs.get(name) for name in names)
                    if all(value is not None for value in found):
                        by_values.setdefault(found, []).append(item)
            known = (table, generation, by_values)
            maps[key] = known
            index_passes[f"{table.name}/{index_name}"] += 1
        return list(known[2].get(values, []))

    def in_order(table: Any, hash_key: Any) -> list[Any]:
        """A partition of the table in key order (moto's own sort of it is then linear),
        kept until the table is written."""
        stored = table.items.get(hash_key)
        if stored is None:
            return []
        if not table.range_key_attr:
            return [stored]
        key = (id(table), "", (str(hash_key),))
        generation = (_epoch[0], _writes[table.name])
        known = maps.get(key)
        if known is None or known[0] is not table or known[1] != generation:
            known = (table, generation, sorted(
                stored.values(), key=lambda item: item.range_key.cast_value))
            if len(maps) > 10_000:  # a long-running stack keeps no more than that
                maps.clear()
            maps[key] = known
        return list(known[2])

    def query(self: Any, *args: Any, **kwargs: Any) -> Any:
        if not getattr(_serialized, "active", False):
            return original(self, *args, **kwargs)
        arguments = signature.bind(self, *args, **kwargs).arguments
        index_name = arguments.get("index_name")
        conditions = sorted(arguments.get("hash_key_conditions") or [],
                            key=lambda condition: condition[0])
        if index_name and conditions:
            items = partition(self, index_name, tuple(name for name, _ in conditions),
                              tuple(value for _, value in conditions))
        elif not index_name and arguments.get("hash_key") is not None:
            items = in_order(self, arguments["hash_key"])
        else:
            return original(self, *args, **kwargs)
        self.all_items = lambda: items  # what the query looks at: this partition only
        try:
            return original(self, *args, **kwargs)
        finally:
            del self.all_items

    query.indexed = True  # type: ignore[attr-defined]
    Table.query = query  # type: ignore[method-assign]


class _TablesAsTheyAre:
    """Stands in for the ``copy`` module in moto's DynamoDB backend: its per-action copy
    of a whole table becomes the table itself, which ``item_level_rollback`` makes safe."""

    @staticmethod
    def deepcopy(value: Any, memo: Any = None) -> Any:
        from moto.dynamodb.models.table import Table

        return value if isinstance(value, Table) else copy.deepcopy(value, memo)


def item_level_rollback() -> None:
    """Make moto's ``TransactWriteItems`` undo a cancelled transaction by putting back the
    items it touched (and cutting the table's stream back), not by restoring copies of
    whole tables. Correct only while DynamoDB requests are serialized (``SerializedDynamoDB``),
    as nothing else can write meanwhile. Idempotent."""
    from moto.dynamodb import models
    from moto.dynamodb.models.dynamo_type import DynamoType

    backend = models.DynamoDBBackend
    if getattr(backend.transact_write_items, "item_level", False):
        return
    models.copy = _TablesAsTheyAre  # type: ignore[attr-defined,assignment]
    original = backend.transact_write_items

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        saved = []
        streams = {}
        for entry in transact_items:
            op: Any = next(iter(entry.values()), {})
            table = self.tables.get(op.get("TableName")) if isinstance(op, dict) else None
            attributes = (op.get("Key") or op.get("Item") or {}) if table else {}
            if table is None or table.hash_key_attr not in attributes:
                continue  # moto refuses it before writing anything
            hash_value = DynamoType(attributes[table.hash_key_attr])
            range_value = DynamoType(attributes[table.range_key_attr]) \
                if table.range_key_attr and table.range_key_attr in attributes else None
            saved.append((table, hash_value, range_value,
                          copy.deepcopy(table.get_item(hash_value, range_value))))
            if table.stream_shard is not None:
                streams[id(table)] = (table.stream_shard, len(table.stream_shard.items))
        try:
            original(self, transact_items)
        except Exception:
            for table, hash_value, range_value, item in reversed(saved):
                if range_value is not None:
                    if item is None:
                        table.items[hash_value].pop(range_value, None)
                    else:
                        table.items[hash_value][range_value] = item
                elif item is None:
                    table.items.pop(hash_value, None)
                else:
                    table.items[hash_value] = item
            for shard, length in streams.values():
                del shard.items[length:]
            raise

    transact_write_items.item_level = True  # type: ignore[attr-defined]
    backend.transact_write_items = transact_write_items  # type: ignore[method-assign]


class MotoBackend:
    """moto's server on ``host:port`` (port 0 picks a free one) in a daemon thread."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        item_level_rollback()
        indexed_queries()
        self._host = host
        app = SerializedDynamoDB(DomainDispatcherApplication(create_backend_app))
        self._server: BaseWSGIServer = make_server(host, port, app, threaded=True,
                                                   request_handler=MotoRequestHandler)
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        name="moto", daemon=True)

    @property
    def endpoint(self) -> str:
        return f"http://{self._host}:{self._server.server_address[1]}"

    def start(self) -> MotoBackend:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join(timeout=5)
