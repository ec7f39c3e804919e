"""Fairness between companies: one company's burst must not starve the others.

Every company may put ``WEBHOOKS_COMPANY_SHARE`` deliveries a second on the main delivery
queue; the rest of its deliveries in that second go to the *burst lane*, a queue of its
own with its own workers. A company that makes a few changes is never affected; one that
imports 20,000 entries sends its share through the main queue and the rest through the
burst lane, so the main queue never holds more than a few seconds of any one company's
work, and every other company's deliveries pass it. The fan-out and ``recover`` queue
deliveries this way; a single redelivery or test event goes on the main queue.

The count is one item per company and second in the ``rate_limits`` table, raised by one
atomic ``ADD`` per company and call (a fan-out batch, a recovery), not per delivery; the
items expire by TTL. A container keeps the first deliveries of a company in a second, up
to a quarter of the share, to itself (no write: a company that makes a change now and
then costs nothing here) and adds them to the count with its first write of that second;
so a company's main-queue deliveries may exceed its share by at most a quarter of it per
container and second (a company's changes reach the fan-out through one stream lane).
"""
from __future__ import annotations

import threading
from collections import defaultdict
from typing import Any

from chalicelib import aws, clock, observability, settings
from chalicelib.delivery import queue

TABLE = "rate_limits"

log = observability.logger


def on_main_lane(already: int, wanted: int, share: int) -> int:
    """How many of ``wanted`` deliveries go on the main queue when ``already`` were
    counted in this second, out of a share of ``share`` a second (pure)."""
    return max(0, min(wanted, share - already))


#: Deliveries of a company this container put on the main queue in a second without
#: counting them yet: company -> (second, deliveries, or COUNTING once it has written the
#: count in that second: from then on every delivery of the second is counted).
_uncounted: dict[int, tuple[int, int]] = {}
COUNTING = -1
_uncounted_lock = threading.Lock()


def main_lane_allowance(company_id: int, wanted: int, share: int) -> int:
    """Count ``wanted`` deliveries of the company in this second; how many of them may
    go on the main queue."""
    second = int(clock.now())
    with _uncounted_lock:
        when, kept = _uncounted.get(company_id, (second, 0))
        kept = kept if when == second else 0
        if 0 <= kept and kept + wanted <= share // 4:  # few: kept to itself, no write
            _uncounted[company_id] = (second, kept + wanted)
            return wanted
        _uncounted[company_id] = (second, COUNTING)  # the rest of the second is counted
    return _count(company_id, second, max(0, kept), wanted, share)


def _count(company_id: int, second: int, kept: int, wanted: int, share: int) -> int:
    """Add the deliveries kept uncounted and the ``wanted`` ones to the company's count of
    the second; how many of the wanted ones may go on the main queue."""
    wanted_and_kept = wanted + kept
    response = aws.dynamodb().update_item(
        TableName=aws.table_name(TABLE),
        Key={"bucket": {"S": f"company#{company_id}#{second}"}},
        UpdateExpression="ADD queued :n SET expires_at = :expires",
        ExpressionAttributeValues={":n": {"N": str(wanted_and_kept)},
                                   ":expires": {"N": str(second + 120)}},
        ReturnValues="UPDATED_NEW")
    total = int(response["Attributes"]["queued"]["N"])
    return on_main_lane(total - wanted, wanted, share)


def send(messages: list[dict[str, Any]]) -> list[int]:
    """Queue delivery messages: each company's up to its share of the main queue, the
    rest on the burst lane; return the indexes of those SQS refused."""
    config = settings.get()
    by_company: dict[int, list[int]] = defaultdict(list)
    for index, message in enumerate(messages):
        by_company[message["company_id"]].append(index)
    main: list[int] = []
    beyond: list[int] = []
    for company_id, indexes in by_company.items():
        try:
            allowed = main_lane_allowance(company_id, len(indexes),
                                          config.company_share_per_second)
        except Exception:  # uncounted, the burst lane is the one that can starve no one
            log.exception("cannot count a company's share of the main queue",
                          extra={"company_id": company_id})
            allowed = 0
        main += indexes[:allowed]
        beyond += indexes[allowed:]
    refused: list[int] = []
    for queue_name, indexes in ((config.delivery_queue_name, sorted(main)),
                                (config.burst_queue_name, sorted(beyond))):
        if indexes:
            refused += [indexes[i] for i in queue.send([messages[i] for i in indexes],
                                                       queue_name)]
    observability.count("BurstLaneQueued", len(beyond))
    return sorted(refused)
