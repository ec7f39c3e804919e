"""Checking real responses against the OpenAPI document the service serves."""
from __future__ import annotations

import re
from functools import cache
from typing import Any

import jsonschema

from chalicelib import openapi


@cache
def _document() -> dict[str, Any]:
    return openapi.document()


def template_of(path: str) -> str:
    """The document's path template for a concrete path (ids become ``{id}``)."""
    for template in _document()["paths"]:
        pattern = "^" + re.sub(r"\{[^}]+\}", r"[^/]+", template) + "$"
        if re.match(pattern, path.split("?")[0]):
            return template
    raise AssertionError(f"{path} is not in the OpenAPI document")


def assert_conforms(method: str, path: str, status: int, body: Any) -> None:
    """Fail unless ``body`` matches the documented response for ``status``."""
    operation = _document()["paths"][template_of(path)][method.lower()]
    responses = operation["responses"]
    assert str(status) in responses, f"{method} {path} answered {status}, not documented"
    schema = responses[str(status)]["content"]["application/json"]["schema"]
    jsonschema.validate(body, {**schema, "components": _document()["components"]},
                        cls=jsonschema.Draft202012Validator)
