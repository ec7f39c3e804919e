"""Lambda's event source mappings, emulated against moto (which has none without Docker).

For every ``@app.on_dynamodb_record`` and ``@app.on_sqs_message`` handler of the app, a
poller reads the moto stream or queue, builds the event exactly as Lambda does, invokes the
very handler Lambda would (``app.<name>``) and acts on the answer as Lambda does:

- every invocation ends at the function's ``lambda_timeout`` (``.chalice/config.json``,
  or ``LOCAL_LAMBDA_TIMEOUT_SECONDS``): the batch then fails as a whole, as on Lambda
  (the handler's thread goes on, like a frozen container that may thaw later);
- streams: records in shard order, batches of ``batch_size``; a partial batch response
  (``batchItemFailures``) makes the batch be retried from the first failed record; an
  error bisects the batch (``BisectBatchOnFunctionError``; splitting counts no retry);
  after ``MaximumRetryAttempts`` the record range is reported to the on-failure queue and
  skipped, so no record stalls the shard for ever. Records moto serves but botocore
  cannot parse are read raw, as Lambda's own poller would hand them over. With a
  ``ParallelizationFactor``, a shard's records are split by partition key into lanes that
  each go on in order on their own (a record's lane: its numeric key modulo the lanes,
  here at most ``stream_lanes``), so one partition key's backlog holds up no other's;
- queues: batches of up to ``batch_size`` messages (more than one receive's 10 are
  gathered for up to the handler's ``maximum_batching_window_in_seconds``), several
  batches at once (up to the mapping's ``ScalingConfig.MaximumConcurrency``, as Lambda's
  pollers scale out);
  messages not reported as failed are deleted; failed ones (or all, on an error or a
  timeout) stay in the queue and come back when their visibility timeout ends.
"""
from __future__ import annotations

import json
import logging
import threading
import time
import uuid
import zlib
from collections.abc import Callable
from datetime import datetime
from typing import Any

log = logging.getLogger("local.event_sources")

Handler = Callable[[dict[str, Any], Any], Any]


class LambdaContext:
    """The parts of Lambda's context object a handler may look at."""

    def __init__(self, function_name: str, timeout_seconds: float = 60) -> None:
        self.function_name = function_name
        self.aws_request_id = str(uuid.uuid4())
        self.memory_limit_in_mb = 512
        self._deadline = time.monotonic() + timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def _failures(response: Any) -> list[str] | None:
    """The ``itemIdentifier``s of a partial batch response; None for a malformed answer,
    which Lambda treats as a failure of the whole batch."""
    if response is None:
        return []
    if not isinstance(response, dict):
        return None
    try:
        return [str(item["itemIdentifier"]) for item in response.get("batchItemFailures", [])]
    except (KeyError, TypeError):
        return None


def stream_event_record(raw: dict[str, Any], stream_arn: str, region: str) -> dict[str, Any]:
    """A record of ``GetRecords`` as Lambda hands it to a function: epoch-seconds
    ``ApproximateCreationDateTime`` (boto3 parses it into a datetime) and the
    ``eventSourceARN`` that GetRecords leaves out."""
    record: dict[str, Any] = json.loads(json.dumps(raw, default=str))  # a JSON copy
    created = raw["dynamodb"].get("ApproximateCreationDateTime")
    if isinstance(created, datetime):
        record["dynamodb"]["ApproximateCreationDateTime"] = created.timestamp()
    record["eventSourceARN"] = stream_arn
    record.setdefault("awsRegion", region)
    return record


def sqs_event_record(message: dict[str, Any], queue_arn: str, region: str) -> dict[str, Any]:
    """A message of ``ReceiveMessage`` as Lambda hands it to a function."""
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": message.get("Attributes", {}),
        "messageAttributes": message.get("MessageAttributes", {}),
        "md5OfBody": message["MD5OfBody"],
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }


class _Poller:
    def __init__(self, name: str, handler: Handler, timeout: float = 60) -> None:
        self.name = name
        self.handler = handler
        self.timeout = timeout
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self.running = 0  # invocations running now
        self.most_running = 0  # the most that ever ran at once
        self.timeouts = 0

    def _invoke(self, event: dict[str, Any]) -> tuple[list[str] | None, bool]:
        """Run the handler, at most ``timeout`` seconds; (failed item ids or None for all,
        whether it raised or timed out)."""
        outcome: list[Any] = []

        def run() -> None:
            try:
                outcome.append(("ok", self.handler(event, LambdaContext(self.name,
                                                                         self.timeout))))
            except Exception as exc:  # noqa: BLE001 - reported below, as Lambda does
                outcome.append(("error", exc))

        with self._lock:
            self.running += 1
            self.most_running = max(self.most_running, self.running)
        try:
            thread = threading.Thread(target=run, name=f"{self.name}-invocation", daemon=True)
            thread.start()
            thread.join(self.timeout)
        finally:
            with self._lock:
                self.running -= 1
        if not outcome:
            with self._lock:
                self.timeouts += 1
            log.error("%s: Task timed out after %.2f seconds", self.name, self.timeout)
            return None, True
        kind, value = outcome[0]
        if kind == "error":
            log.error("%s failed", self.name, exc_info=value)
            return None, True
        return _failures(value), False

    def start(self, threads: int = 1) -> None:
        for index in range(threads):
            thread = threading.Thread(target=self._run, name=f"{self.name}-{index}",
                                      daemon=True)
            thread.start()
            self._threads.append(thread)

    def request_stop(self) -> None:
        """Stop polling, without waiting (``stop`` waits)."""
        self._stop.set()

    def stop(self, timeout: float = 2) -> None:
        """Stop polling; a handler still running (a send to a slow receiver) is left to
        the process's exit, as a Lambda's invocation ends with its container."""
        self._stop.set()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                busy = self.poll_once()
            except Exception:
                log.exception("%s: polling failed", self.name)
                busy = False
            if not busy:
                self._stop.wait(0.05)

    def poll_once(self) -> bool:
        raise NotImplementedError


class StreamPoller(_Poller):
    """One DynamoDB stream → one handler, as a Lambda event source mapping would; with
    ``lanes`` > 1, the records of lane ``lane`` only (ParallelizationFactor: one poller
    per lane, each with its own place in every shard)."""

    def __init__(self, name: str, handler: Handler, streams: Any, stream_arn: str,
                 region: str, batch_size: int = 100, max_retries: int = 10,
                 retry_delay: float = 0.2, on_failure: Callable[[dict[str, Any]], None]
                 | None = None, batching_window: float = 0, bisect: bool = True,
                 timeout: float = 60, partition_key: str | None = None, lane: int = 0,
                 lanes: int = 1, shard_refresh: float = 1.0) -> None:
        super().__init__(name, handler, timeout)
        self._partition_key = partition_key
        self._lane = lane
        self._lanes = lanes
        self._bisect = bisect
        self._limits: dict[str, int] = {}  # a shard's batch size while bisecting
        self._window = batching_window
        self._gathering: set[str] = set()
        self._streams = streams
        self._arn = stream_arn
        self._region = region
        self._batch_size = batch_size
        self._max_retries = max_retries
        self._retry_delay = retry_delay
        self._on_failure = on_failure
        self._iterators: dict[str, str | None] = {}
        self._retries: dict[str, int] = {}
        self._shard_refresh = shard_refresh
        self._shards_checked = float("-inf")


    def _discover_shards(self) -> None:
        """New shards of the stream, at most once every ``shard_refresh`` seconds (as
        Lambda's poller looks for new shards now and then, not before every read)."""
        if time.monotonic() < self._shards_checked + self._shard_refresh:
            return
        shards = self._streams.describe_stream(StreamArn=self._arn)["StreamDescription"][
            "Shards"]
        for shard in shards:
            shard_id = shard["ShardId"]
            if shard_id not in self._iterators:
                self._iterators[shard_id] = self._streams.get_shard_iterator(
                    StreamArn=self._arn, ShardId=shard_id,
                    ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        self._shards_checked = time.monotonic()

    def poll_once(self) -> bool:
        self._discover_shards()
        busy = False
        for shard_id, iterator in list(self._iterators.items()):
            if iterator is None:
                continue
            limit = self._limits.get(shard_id, self._batch_size)
            response = self._get_records(iterator, limit)
            records = [stream_event_record(r, self._arn, self._region)
                       for r in response.get("Records", []) if self._mine(r)]
            if not records:
                self._iterators[shard_id] = response.get("NextShardIterator")
                continue
            if self._window and len(records) < self._batch_size and \
                    shard_id not in self._gathering:
                # MaximumBatchingWindowInSeconds: let more records gather, then read again
                # from the same iterator
                self._gathering.add(shard_id)
                self._stop.wait(self._window)
                return True
            self._gathering.discard(shard_id)
            busy = True
            failed, raised = self._invoke({"Records": records})
            if failed == []:
                self._retries.pop(shard_id, None)
                if limit < self._batch_size:  # past the bisected part: back to full batches
                    self._limits[shard_id] = min(self._batch_size, limit * 2)
                self._iterators[shard_id] = response.get("NextShardIterator")
                continue
            if raised and self._bisect and len(records) > 1:
                # BisectBatchOnFunctionError: the first half again (no retry counted)
                self._limits[shard_id] = len(records) // 2
                self._iterators[shard_id] = self._at(shard_id,
                                                     records[0]["dynamodb"]["SequenceNumber"])
                continue
            self._retry_or_skip(shard_id, records, failed, response.get("NextShardIterator"))
        return busy

    def _mine(self, record: dict[str, Any]) -> bool:
        """Whether a record belongs to this poller's lane (by its partition key)."""
        if self._lanes == 1:
            return True
        value = record.get("dynamodb", {}).get("Keys", {}).get(self._partition_key or "")
        text = str(next(iter(value.values()), "")) if isinstance(value, dict) else ""
        number = int(text) if text.isdigit() else zlib.crc32(text.encode())
        return number % self._lanes == self._lane

    def _at(self, shard_id: str, sequence: str) -> str:
        return str(self._streams.get_shard_iterator(
            StreamArn=self._arn, ShardId=shard_id, ShardIteratorType="AT_SEQUENCE_NUMBER",
            SequenceNumber=sequence)["ShardIterator"])

    def _get_records(self, iterator: str, limit: int) -> dict[str, Any]:
        """GetRecords; when botocore cannot parse what moto serves (moto serializes some
        values DynamoDB stores, such as a map with an empty key, in a shape botocore
        rejects), the same call read raw: Lambda's poller would hand the record over."""
        try:
            return dict(self._streams.get_records(ShardIterator=iterator, Limit=limit))
        except (AttributeError, KeyError, TypeError, ValueError):
            log.warning("%s: botocore cannot parse a GetRecords answer; reading it raw",
                        self.name)
        import urllib.request

        request = urllib.request.Request(  # noqa: S310 - the local moto endpoint
            self._streams.meta.endpoint_url, method="POST",
            data=json.dumps({"ShardIterator": iterator, "Limit": limit}).encode(),
            headers={"Content-Type": "application/x-amz-json-1.0",
                     "X-Amz-Target": "DynamoDBStreams_20120810.GetRecords",
                     "Authorization": "AWS4-HMAC-SHA256 Credential=local/20200101/"
                     f"{self._region}/dynamodb/aws4_request, SignedHeaders=host, "
                     "Signature=local"})
        with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310
            return dict(json.loads(answer.read()))

    def _retry_or_skip(self, shard_id: str, records: list[dict[str, Any]],
                       failed: list[str] | None, next_iterator: str | None) -> None:
        sequences = [r["dynamodb"]["SequenceNumber"] for r in records]
        # Lambda retries from the lowest failed sequence number (the whole batch when the
        # handler raised or answered nonsense).
        first = min((s for s in failed or [] if s in sequences), key=int,
                    default=sequences[0])
        retries = self._retries.get(shard_id, 0) + 1
        if retries > self._max_retries:
            log.error("%s: giving up on %d record(s) after %d retries", self.name,
                      len(records), self._max_retries)
            if self._on_failure is not None:
                self._on_failure({"shard": shard_id, "startSequenceNumber": first,
                                  "endSequenceNumber": sequences[-1], "batchSize": len(records),
                                  "streamArn": self._arn})
            self._retries.pop(shard_id, None)
            self._iterators[shard_id] = next_iterator
            return
        self._retries[shard_id] = retries
        self._stop.wait(self._retry_delay)
        self._iterators[shard_id] = self._at(shard_id, first)


class QueuePoller(_Poller):
    """One SQS queue → one handler, with several pollers as Lambda scales out."""

    def __init__(self, name: str, handler: Handler, sqs: Any, queue_url: str,
                 region: str, batch_size: int = 10, wait_seconds: int = 1,
                 timeout: float = 60, batching_window: float = 0) -> None:
        super().__init__(name, handler, timeout)
        self._sqs = sqs
        self._url = queue_url
        self._region = region
        self._batch_size = batch_size
        self._wait = wait_seconds
        self._window = batching_window
        self._arn = sqs.get_queue_attributes(
            QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


    def _receive(self, most: int, wait: int) -> list[dict[str, Any]]:
        return list(self._sqs.receive_message(
            QueueUrl=self._url, MaxNumberOfMessages=min(10, most), WaitTimeSeconds=wait,
            AttributeNames=["All"], MessageAttributeNames=["All"]).get("Messages", []))

    def poll_once(self) -> bool:
        messages = self._receive(self._batch_size, self._wait)
        if not messages:
            return False
        # a batch larger than one receive (10): gathered for up to the batching window
        deadline = time.monotonic() + self._window
        while len(messages) < self._batch_size and time.monotonic() < deadline \
                and not self._stop.is_set():
            more = self._receive(self._batch_size - len(messages), 0)
            messages += more
            if not more:
                self._stop.wait(0.05)
        records = [sqs_event_record(m, self._arn, self._region) for m in messages]
        failed, _ = self._invoke({"Records": records})
        if failed is None:
            return True  # everything comes back after its visibility timeout
        done = [r for r in records if r["messageId"] not in set(failed)]
        for start in range(0, len(done), 10):
            self._sqs.delete_message_batch(QueueUrl=self._url, Entries=[
                {"Id": str(i), "ReceiptHandle": r["receiptHandle"]}
                for i, r in enumerate(done[start:start + 10])])
        return True

    def counts(self) -> dict[str, int]:
        """The queue's approximate counts: visible, in flight, delayed."""
        names = {"ApproximateNumberOfMessages": "visible",
                 "ApproximateNumberOfMessagesNotVisible": "in_flight",
                 "ApproximateNumberOfMessagesDelayed": "delayed"}
        attributes = self._sqs.get_queue_attributes(
            QueueUrl=self._url, AttributeNames=list(names))["Attributes"]
        return {short: int(attributes.get(name, 0)) for name, short in names.items()}


def mapping_settings(function_name: str) -> dict[str, Any]:
    """The event source mapping's settings the template gives a Chalice function (its
    logical id is the name in CamelCase), e.g. ``ScalingConfig`` or
    ``BisectBatchOnFunctionError``."""
    from local.infra import _template

    logical = "".join(part[:1].upper() + part[1:] for part in function_name.split("_"))
    logical = logical.replace("Api", "API")
    resource = _template()["Resources"].get(logical, {})
    for event in resource.get("Properties", {}).get("Events", {}).values():
        return dict(event.get("Properties", {}))
    return {}


def partition_key(mapping: dict[str, Any]) -> str | None:
    """The partition (hash) key of the table whose stream a mapping reads, from the
    template."""
    from local.infra import _template

    stream = mapping.get("Stream", {})
    logical = stream.get("Fn::GetAtt", [""])[0] if isinstance(stream, dict) else ""
    table = _template()["Resources"].get(logical, {})
    for key in table.get("Properties", {}).get("KeySchema", []):
        if key.get("KeyType") == "HASH":
            return str(key["AttributeName"])
    return None


def lambda_timeout(function_name: str, stage: str = "prod") -> float:
    """The function's ``lambda_timeout`` (``.chalice/config.json``; Chalice's default is
    60 s); ``LOCAL_LAMBDA_TIMEOUT_SECONDS`` replaces it for tests."""
    import os
    from pathlib import Path

    if os.environ.get("LOCAL_LAMBDA_TIMEOUT_SECONDS"):
        return float(os.environ["LOCAL_LAMBDA_TIMEOUT_SECONDS"])
    config = json.loads((Path(__file__).resolve().parent.parent / ".chalice" / "config.json")
                        .read_text())
    stage_config = config.get("stages", {}).get(stage, {})
    function = stage_config.get("lambda_functions", {}).get(function_name, {})
    return float(function.get("lambda_timeout", stage_config.get("lambda_timeout", 60)))


def for_app(app: Any, module: Any, *, streams: Any, sqs: Any, region: str,
            on_stream_failure: Callable[[dict[str, Any]], None] | None = None,
            queue_pollers: int = 4, batching_window: float | None = None,
            stream_lanes: int = 2) -> list[_Poller]:
    """A poller for every stream and queue handler the Chalice ``app`` registers; the
    handler invoked is ``module.<name>``, the object Lambda's handler string names.
    ``batching_window`` replaces the handlers' MaximumBatchingWindowInSeconds (of streams
    and queues); a queue
    gets as many concurrent batches as its mapping's MaximumConcurrency allows, at most
    ``queue_pollers`` on this machine; a stream as many lanes as its mapping's
    ParallelizationFactor, at most ``stream_lanes`` (each lane polls on its own)."""
    pollers: list[_Poller] = []
    for source in app.event_sources:
        handler = getattr(module, source.name)
        if hasattr(source, "stream_arn"):
            window = source.maximum_batching_window_in_seconds \
                if batching_window is None else batching_window
            mapping = mapping_settings(source.name)
            lanes = min(int(mapping.get("ParallelizationFactor", 1)), stream_lanes)
            for lane in range(lanes):
                stream_poller = StreamPoller(
                    source.name, handler, streams, source.stream_arn, region,
                    batch_size=source.batch_size, on_failure=on_stream_failure,
                    batching_window=window, timeout=lambda_timeout(source.name),
                    bisect=bool(mapping.get("BisectBatchOnFunctionError", False)),
                    max_retries=int(mapping.get("MaximumRetryAttempts", 10)),
                    partition_key=partition_key(mapping), lane=lane, lanes=lanes)
                stream_poller.start()
                pollers.append(stream_poller)
        elif hasattr(source, "queue"):
            url = sqs.get_queue_url(QueueName=source.queue)["QueueUrl"]
            queue_poller = QueuePoller(
                source.name, handler, sqs, url, region, batch_size=source.batch_size,
                timeout=lambda_timeout(source.name), wait_seconds=5,
                batching_window=source.maximum_batching_window_in_seconds
                if batching_window is None else batching_window)
            maximum = mapping_settings(source.name).get("ScalingConfig", {}).get(
                "MaximumConcurrency", queue_pollers)
            queue_poller.start(min(int(maximum), queue_pollers))
            pollers.append(queue_poller)
    return pollers
