"""Recovery as a bounded job: ``POST /v2/webhooks/{id}/recover`` starts it and answers at
once; the ``run_recoveries`` function sends the failed deliveries again, a chunk per step.

A job is one item of the webhooks table, beside its webhook (``recovery#<webhook>#<job>``),
that expires a day after it started (``ttl``, the table's TTL attribute). Its id is
derived from the webhook and ``since``, so the same request within that day finds the
running or finished job instead of sending again (a stopped job is started again). A step
reads one chunk of the webhook's failed deliveries from the status index (``CHUNK``, after
the job's cursor), queues them (all of them, or the step is retried whole), records its
progress conditional on its step number, and queues the next step, a little delayed:
any number of deliveries, in steps of bounded time.
Each delivery's message carries the request id ``<job>:<delivery>``, which the worker
attempts at most once, so a step that runs twice (an SQS duplicate, a retry after a
crash) never sends a delivery twice.
"""
from __future__ import annotations

import hashlib
import json
from typing import Any

from chalicelib import aws, clock, observability, settings, subscriptions
from chalicelib.delivery import fairness, queue
from chalicelib.delivery import log as delivery_log
from chalicelib.errors import NotFound, ServiceUnavailable

TABLE = subscriptions.TABLE
CHUNK = 500  # failed deliveries per step: a query page and 50 SendMessageBatch calls
JOB_TTL_SECONDS = 86400
NEXT_STEP_DELAY = 2  # seconds
RUNNING, DONE, STOPPED = "running", "done", "stopped"

log = observability.logger


class StepNotReady(Exception):
    """A step's message arrived before the step before it recorded its progress."""


def _sk(webhook_id: int, job_id: str) -> str:
    return f"recovery#{webhook_id:015d}#{job_id}"


def _key(company_id: int, webhook_id: int, job_id: str) -> dict[str, Any]:
    return {"company_id": {"N": str(company_id)}, "sk": {"S": _sk(webhook_id, job_id)}}


def job_id(webhook_id: int, since: str) -> str:
    """The job of recovering ``webhook_id`` since ``since`` (the same request, the same id)."""
    return "rcv_" + hashlib.sha256(f"{webhook_id}|{since}".encode()).hexdigest()[:24]


def _json(values: dict[str, Any]) -> dict[str, Any]:
    return {"id": values["job_id"], "webhook_id": int(values["webhook_id"]),
            "since": values["since"], "status": values["status"],
            "queued": int(values.get("queued", 0)),
            "stopped_because": values.get("stopped_because"),
            "created_at": values["created_at"], "updated_at": values["updated_at"]}


def start(company_id: int, webhook_id: int, since: str) -> tuple[dict[str, Any], bool]:
    """The job for this request and whether it was started now (False: the same request
    already started it within the last day)."""
    job = job_id(webhook_id, since)
    now = clock.now()
    values = {"company_id": company_id, "sk": _sk(webhook_id, job), "job_id": job,
              "webhook_id": webhook_id, "since": since, "status": RUNNING, "step": 0,
              "queued": 0, "created_at": clock.iso(now),
              "updated_at": clock.iso(now), "ttl": int(now) + JOB_TTL_SECONDS}
    try:
        aws.dynamodb().put_item(
            TableName=aws.table_name(TABLE), Item=aws.to_attributes(values),
            # an expired job (TTL deletes late) or a stopped one is replaced: the request
            # starts it again (what it queued before carries the same request ids)
            ConditionExpression="attribute_not_exists(sk) OR #ttl < :now "
                                "OR #status = :stopped",
            ExpressionAttributeNames={"#status": "status", "#ttl": "ttl"},
            ExpressionAttributeValues={":now": {"N": str(int(now))},
                                       ":stopped": {"S": STOPPED}})
    except aws.dynamodb().exceptions.ConditionalCheckFailedException:
        return get(company_id, webhook_id, job), False
    if queue.send_bodies([_step(company_id, webhook_id, job, 0)],
                         settings.get().recovery_queue_name):
        aws.dynamodb().delete_item(TableName=aws.table_name(TABLE),
                                   Key=_key(company_id, webhook_id, job))
        raise ServiceUnavailable("the recovery could not be started; try again")
    return _json(values), True


def get(company_id: int, webhook_id: int, job: str) -> dict[str, Any]:
    """A job of the webhook, or ``NotFound``."""
    item = None
    if job.startswith("rcv_") and len(job) == 28:
        item = aws.dynamodb().get_item(TableName=aws.table_name(TABLE), ConsistentRead=True,
                                       Key=_key(company_id, webhook_id, job)).get("Item")
    if item is None:
        raise NotFound(f"no recovery {job[:40]!r} of webhook {webhook_id}", path="job_id")
    return _json(aws.from_attributes(item))


def _step(company_id: int, webhook_id: int, job: str, step: int) -> str:
    return json.dumps({"job_id": job, "company_id": company_id, "webhook_id": webhook_id,
                       "step": step, "v": 1}, separators=(",", ":"))


def run(records: list[dict[str, Any]]) -> dict[str, Any]:
    """The recovery queue's handler: one step of each job named; a step that fails is
    retried by SQS (and, after its receives, ends in the dead-letter queue, logged)."""
    again = []
    for record in records:
        try:
            message = json.loads(record["body"])
            run_step(int(message["company_id"]), int(message["webhook_id"]),
                     str(message["job_id"]), int(message["step"]))
        except (KeyError, TypeError, ValueError):
            log.error("unreadable recovery message", extra={"body": record.get("body")})
        except Exception:
            log.exception("recovery step failed; SQS retries it",
                          extra={"message_id": record.get("messageId")})
            again.append(str(record["messageId"]))
    return {"batchItemFailures": [{"itemIdentifier": item} for item in again]}


def run_step(company_id: int, webhook_id: int, job: str, step: int) -> None:
    """Queue the next chunk of the job's failed deliveries, if ``step`` is its next."""
    try:
        values = aws.from_attributes(aws.dynamodb().get_item(
            TableName=aws.table_name(TABLE), ConsistentRead=True,
            Key=_key(company_id, webhook_id, job))["Item"])
    except KeyError:
        return  # expired
    if values["status"] != RUNNING or int(values["step"]) > step:
        return  # a copy of a step already taken, or a step of a job that ended
    if int(values["step"]) < step:  # the step before has queued this one but not yet
        raise StepNotReady(f"recovery {job}: step {step} before step {step - 1} ended")
    try:
        webhook = subscriptions.get(company_id, webhook_id)
    except NotFound:
        webhook = None
    stopped = None
    found: list[dict[str, Any]] = []
    cursor = values.get("cursor")
    if webhook is None or webhook.status != subscriptions.ACTIVE:
        stopped = "the webhook was deleted" if webhook is None else \
            f"the webhook is {webhook.status}; only active webhooks are sent to"
    else:
        found, cursor = delivery_log.failed_since(
            webhook_id, clock.parse_iso(values["since"]).timestamp(),
            after=values.get("cursor"), items=CHUNK)
    messages = [{**delivery_log.message_of(webhook_id, d, company_id),
                 "request_id": f"{job}:{d['id']}"} for d in found]
    # a chunk is a burst: beyond the company's share of the main queue, on the burst lane
    if messages and fairness.send(messages):
        # SQS refused some: the step is retried whole (the request ids make the
        # deliveries it already queued no second send), never skipped
        raise ServiceUnavailable(f"recovery {job}: step {step} could not queue its chunk")
    status = STOPPED if stopped else RUNNING if cursor is not None else DONE
    update = ("SET #step = :next, #status = :status, updated_at = :now "
              "ADD queued :queued")
    attributes = {":step": step, ":next": step + 1, ":status": status,
                  ":now": clock.now_iso(), ":queued": len(messages)}
    if cursor is not None:
        update = update.replace("updated_at = :now", "updated_at = :now, #cursor = :cursor")
        attributes[":cursor"] = cursor
    if stopped:
        update = update.replace("updated_at = :now", "updated_at = :now, stopped_because = :why")
        attributes[":why"] = stopped
    names = {"#step": "step", "#status": "status"}
    if cursor is not None:
        names["#cursor"] = "cursor"
    # the next step is queued first: should this one crash before it records, SQS runs it
    # again, and the next one waits (``StepNotReady``) until it has
    # delayed a little: it usually arrives after this step recorded, rather than waiting
    # a visibility timeout (``StepNotReady``)
    if status == RUNNING and queue.send_bodies([_step(company_id, webhook_id, job, step + 1)],
                                               settings.get().recovery_queue_name,
                                               delays=[NEXT_STEP_DELAY]):
        raise ServiceUnavailable("the next recovery step could not be queued")
    if aws.update_if(TableName=aws.table_name(TABLE), Key=_key(company_id, webhook_id, job),
                     UpdateExpression=update, ConditionExpression="#step = :step",
                     ExpressionAttributeNames=names,
                     ExpressionAttributeValues=aws.to_attributes(attributes)) is None:
        return  # a copy took this step meanwhile (and queued the same request ids)
    log.info("recovery step", extra={"job_id": job, "webhook_id": webhook_id,
                                     "company_id": company_id, "step": step,
                                     "queued": len(messages), "status": status})


def abandon(body: str, receives: str) -> bool:
    """Stop the job whose step message reached the dead-letter queue (it failed every
    receive), so that its progress says so; False when ``body`` is no step of a job."""
    try:
        message = json.loads(body)
        company_id, webhook_id = int(message["company_id"]), int(message["webhook_id"])
        job, step = str(message["job_id"]), int(message["step"])
    except (KeyError, TypeError, ValueError):
        return False
    why = (f"step {step} failed {receives} receives and went to the dead-letter queue; "
           "recover again (deliveries already queued are not sent twice)")
    aws.update_if(TableName=aws.table_name(TABLE), Key=_key(company_id, webhook_id, job),
                  UpdateExpression="SET #status = :stopped, stopped_because = :why, "
                                   "updated_at = :now",
                  ConditionExpression="#status = :running",
                  ExpressionAttributeNames={"#status": "status"},
                  ExpressionAttributeValues=aws.to_attributes({
                      ":stopped": STOPPED, ":why": why, ":now": clock.now_iso(),
                      ":running": RUNNING}))
    log.error("recovery step dead-lettered", extra={"job_id": job, "webhook_id": webhook_id,
                                                     "company_id": company_id, "step": step})
    return True
