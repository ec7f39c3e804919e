"""Lambda's event source mappings, emulated against moto (which has none without Docker).

For every ``@app.on_dynamodb_record`` and ``@app.on_sqs_message`` handler of the app, a
poller reads the moto stream or queue, builds the event exactly as Lambda does, invokes the
very handler Lambda would (``app.<name>``) and acts on the answer as Lambda does:

- streams: records in shard order, batches of ``batch_size``; a partial batch response
  (``batchItemFailures``) or an error makes the batch be retried from the first failed
  record; after ``max_retries`` the batch is reported to the on-failure queue and skipped;
- queues: batches of up to ``batch_size`` messages, several pollers at once (Lambda scales
  out); messages not reported as failed are deleted; failed ones (or all, on an error)
  stay in the queue and come back when their visibility timeout ends.
"""
from __future__ import annotations

import json
import logging
import threading
import time
import uuid
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
    def __init__(self, name: str, handler: Handler) -> None:
        self.name = name
        self.handler = handler
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def _invoke(self, event: dict[str, Any]) -> tuple[list[str] | None, bool]:
        """Run the handler; (failed item ids or None for all, whether it raised)."""
        try:
            return _failures(self.handler(event, LambdaContext(self.name))), False
        except Exception:
            log.exception("%s failed", self.name)
            return None, True

    def start(self, threads: int = 1) -> None:
        for index in range(threads):
            thread = threading.Thread(target=self._run, name=f"{self.name}-{index}",
                                      daemon=True)
            thread.start()
            self._threads.append(thread)

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
    """One DynamoDB stream → one handler, as a Lambda event source mapping would."""

    def __init__(self, name: str, handler: Handler, streams: Any, stream_arn: str,
                 region: str, batch_size: int = 100, max_retries: int = 10,
                 retry_delay: float = 0.2, on_failure: Callable[[dict[str, Any]], None]
                 | None = None, batching_window: float = 0) -> None:
        super().__init__(name, handler)
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


    def poll_once(self) -> bool:
        shards = self._streams.describe_stream(StreamArn=self._arn)["StreamDescription"][
            "Shards"]
        for shard in shards:
            shard_id = shard["ShardId"]
            if shard_id not in self._iterators:
                self._iterators[shard_id] = self._streams.get_shard_iterator(
                    StreamArn=self._arn, ShardId=shard_id,
                    ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        busy = False
        for shard_id, iterator in list(self._iterators.items()):
            if iterator is None:
                continue
            response = self._streams.get_records(ShardIterator=iterator,
                                                 Limit=self._batch_size)
            records = [stream_event_record(r, self._arn, self._region)
                       for r in response.get("Records", [])]
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
            failed, _ = self._invoke({"Records": records})
            if failed == []:
                self._retries.pop(shard_id, None)
                self._iterators[shard_id] = response.get("NextShardIterator")
                continue
            self._retry_or_skip(shard_id, records, failed, response.get("NextShardIterator"))
        return busy

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
        self._iterators[shard_id] = self._streams.get_shard_iterator(
            StreamArn=self._arn, ShardId=shard_id, ShardIteratorType="AT_SEQUENCE_NUMBER",
            SequenceNumber=first)["ShardIterator"]


class QueuePoller(_Poller):
    """One SQS queue → one handler, with several pollers as Lambda scales out."""

    def __init__(self, name: str, handler: Handler, sqs: Any, queue_url: str,
                 region: str, batch_size: int = 10, wait_seconds: int = 1) -> None:
        super().__init__(name, handler)
        self._sqs = sqs
        self._url = queue_url
        self._region = region
        self._batch_size = batch_size
        self._wait = wait_seconds
        self._arn = sqs.get_queue_attributes(
            QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


    def poll_once(self) -> bool:
        response = self._sqs.receive_message(
            QueueUrl=self._url, MaxNumberOfMessages=self._batch_size,
            WaitTimeSeconds=self._wait, AttributeNames=["All"],
            MessageAttributeNames=["All"])
        messages = response.get("Messages", [])
        if not messages:
            return False
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


def for_app(app: Any, module: Any, *, streams: Any, sqs: Any, region: str,
            on_stream_failure: Callable[[dict[str, Any]], None] | None = None,
            queue_pollers: int = 4, batching_window: float | None = None) -> list[_Poller]:
    """A poller for every stream and queue handler the Chalice ``app`` registers; the
    handler invoked is ``module.<name>``, the object Lambda's handler string names.
    ``batching_window`` replaces the handlers' MaximumBatchingWindowInSeconds."""
    pollers: list[_Poller] = []
    for source in app.event_sources:
        handler = getattr(module, source.name)
        if hasattr(source, "stream_arn"):
            window = source.maximum_batching_window_in_seconds \
                if batching_window is None else batching_window
            poller: _Poller = StreamPoller(source.name, handler, streams, source.stream_arn,
                                           region, batch_size=source.batch_size,
                                           on_failure=on_stream_failure,
                                           batching_window=window)
            poller.start()
        elif hasattr(source, "queue"):
            url = sqs.get_queue_url(QueueName=source.queue)["QueueUrl"]
            poller = QueuePoller(source.name, handler, sqs, url, region,
                                 batch_size=source.batch_size)
            poller.start(queue_pollers)
        else:
            continue
        pollers.append(poller)
    return pollers
