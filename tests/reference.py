"""Where the shared Clockodo reference lies (beside the checkout, read-only)."""
from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def webhooks_reference() -> Path:
    for base in (ROOT.parent / "shared", ROOT.parent.parent / "shared"):
        path = base / "reference" / "clockodo-openapi" / "webhooks.yaml"
        if path.exists():
            return path
    pytest.skip("the shared Clockodo reference is not beside this checkout")
