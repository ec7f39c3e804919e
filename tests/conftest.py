"""Fixtures shared by every layer of tests."""
from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.receivers import Receiver  # noqa: E402


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A webhook endpoint on loopback that answers 200."""
    endpoint = Receiver().start()
    yield endpoint
    endpoint.stop()
