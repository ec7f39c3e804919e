"""A company's share of the main delivery queue (pure)."""
from __future__ import annotations

import pytest

from chalicelib.delivery.fairness import on_main_lane


@pytest.mark.parametrize(("already", "wanted", "share", "main"), [
    (0, 3, 5, 3),  # within the share: all on the main queue
    (0, 8, 5, 5),  # beyond it: the share, the rest on the burst lane
    (4, 3, 5, 1),
    (5, 3, 5, 0),  # the share of this second is used up
    (9, 3, 5, 0),
    (0, 0, 5, 0),
])
def test_a_company_gets_its_share_of_the_main_queue_a_second(already: int, wanted: int,
                                                              share: int, main: int) -> None:
    assert on_main_lane(already, wanted, share) == main
