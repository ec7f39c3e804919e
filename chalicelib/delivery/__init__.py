"""The delivery engine: where a change becomes deliveries, and a delivery an HTTP call and
a log line.

- ``fanout``: stream records of changed resources → one queued message per active webhook;
- ``fairness``: each company's share of the main queue; the rest on the burst lane;
- ``queue``: the delivery queues (SQS) and the messages they carry;
- ``flow``: per-endpoint flow control (leased slots);
- ``dead_letters``: the dead-letter queue's handler;
- ``unreadable``: stream records the fan-out cannot read, kept whole for replay (pure);
- ``worker``: queued deliveries → signed POSTs, fenced by the log, retried on schedule;
- ``schedule``: the retry schedule, jitter and ``Retry-After`` (pure);
- ``log``: the delivery log ("Protokoll"): claims, attempts, the retry state;
- ``signing``: Standard Webhooks secrets and signatures (pure);
- ``outbound``: one HTTP POST to a vetted, pinned address, within a wall-clock deadline;
- ``urlguard``: SSRF vetting of webhook URLs (pure, resolver injectable).
"""
