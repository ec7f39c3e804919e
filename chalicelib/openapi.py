"""The API's OpenAPI 3.1 document, kept beside the code and served at /v2/openapi.json."""
from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

PATH = Path(__file__).with_name("openapi.json")


@cache
def document() -> dict[str, Any]:
    """The parsed document (read once per container)."""
    parsed: dict[str, Any] = json.loads(PATH.read_text(encoding="utf-8"))
    return parsed
