"""The pause before asking DynamoDB again for what it left unprocessed (pure)."""
from __future__ import annotations

import random

from chalicelib.aws import backoff_delay


def test_the_pause_grows_with_each_attempt_up_to_a_cap_and_is_jittered() -> None:
    rng = random.Random(7)
    for attempt, ceiling in ((1, 0.1), (2, 0.2), (3, 0.4), (10, 2.0), (30, 2.0)):
        delays = [backoff_delay(attempt, rng=rng) for _ in range(200)]
        assert all(0 <= d <= ceiling for d in delays)
        assert max(delays) > ceiling * 0.8  # spread over the whole range: jitter
        assert min(delays) < ceiling * 0.2
