"""Request input checks and the error format."""
from __future__ import annotations

import pytest

from chalicelib import errors, inputs
from chalicelib.errors import ApiError


def refusal(call, *args, **kwargs) -> dict:
    with pytest.raises(ApiError) as caught:
        call(*args, **kwargs)
    error = caught.value
    return {"status": error.status, **error.to_error()}


@pytest.mark.parametrize(("raw", "status", "type_"), [
    (None, 400, "InvalidJson"),
    (b"", 400, "InvalidJson"),
    (b"   ", 400, "InvalidJson"),
    (b"{", 400, "InvalidJson"),
    (b"[1, 2]", 400, "InvalidJson"),
    (b'"text"', 400, "InvalidJson"),
    (b"null", 400, "InvalidJson"),
    (b'{"a": NaN}', 400, "InvalidJson"),
    (b"\xff\xfe", 400, "InvalidJson"),
    (b"[" * 100000, 400, "InvalidJson"),
    (b'{"url": "x", "evil": 1}', 422, "UnknownField"),
    (b'{"url": "\\ud800"}', 400, "InvalidJson"),
    (b'{"url": ["a", {"\\udfff": 1}]}', 400, "InvalidJson"),
])
def test_json_object_refusals(raw: bytes | None, status: int, type_: str) -> None:
    found = refusal(inputs.json_object, raw, max_bytes=10**6, allowed=("url",))
    assert (found["status"], found["type"]) == (status, type_)


def test_oversized_bodies_are_refused_before_parsing() -> None:
    found = refusal(inputs.json_object, b"{" + b" " * 100 + b"}", max_bytes=50, allowed=())
    assert found["status"] == 413
    assert found["details"] == {"max_bytes": 50}


def test_json_object_returns_the_object() -> None:
    assert inputs.json_object(b'{"url": "u"}', max_bytes=100, allowed=("url",)) == {"url": "u"}


@pytest.mark.parametrize("value", ["abc", "0", "-1", "1.5", "1e3", "", "٣", "9" * 5000,
                                   str(2**53)])
def test_path_ids_that_are_not_positive_integers_are_404(value: str) -> None:
    assert refusal(inputs.path_id, value)["status"] == 404


def test_path_id_parses() -> None:
    assert inputs.path_id("42") == 42


@pytest.mark.parametrize(("body", "type_"), [
    ({}, "Empty"), ({"token": None}, "Empty"), ({"token": ""}, "Empty"),
    ({"token": 5}, "UnexpectedValue"), ({"token": ["a"]}, "UnexpectedValue"),
    ({"token": "a" * 256}, "NotBetween"), ({"token": "tab\there"}, "UnexpectedValue"),
    ({"token": "bell\x07"}, "UnexpectedValue"),
])
def test_required_string_refusals(body: dict, type_: str) -> None:
    found = refusal(inputs.required_string, body, "token")
    assert (found["status"], found["type"], found["path"]) == (422, type_, "token")


def test_strings_of_printable_unicode_are_fine() -> None:
    assert inputs.required_string({"token": "Mein Töken 🚀"}, "token") == "Mein Töken 🚀"
    assert inputs.required_string({"token": "x" * 255}, "token") == "x" * 255


def test_unknown_query_parameters_are_refused() -> None:
    found = refusal(inputs.query, {"filter[stauts]": "active"}, ("page",))
    assert (found["status"], found["type"], found["path"]) == \
        (400, "UnknownParameter", "filter[stauts]")


@pytest.mark.parametrize("value", ["0", "-1", "x", "1001", "9" * 30])
def test_positive_int_refusals(value: str) -> None:
    assert refusal(inputs.positive_int, {"page": value}, "page", 1, 1000)["status"] == 400


def test_paginate_counts_pages() -> None:
    page = inputs.paginate(list(range(7)), page=2, items_per_page=3)
    assert page == {"paging": {"items_per_page": 3, "current_page": 2, "count_pages": 3,
                               "count_items": 7}, "data": [3, 4, 5]}
    assert inputs.paginate([], 1, 10)["paging"]["count_pages"] == 1


def test_error_body_has_clockodos_shape() -> None:
    body = errors.error_body(errors.NotFound("no webhook 3", path="id"))
    assert body == {"errors": [{"type": "ResourceNotFound", "message": "no webhook 3",
                                "path": "id", "details": None}]}


def test_the_body_carries_clockodos_own_shape_beside_the_general_one() -> None:
    refused = [errors.Unprocessable("name is required", path="name", type="Empty"),
               errors.Unprocessable("bad", type="UnexpectedValue")]
    flat = [e.to_error() for e in refused]
    assert errors.error_body(*refused, shape=errors.NESTED) == {
        "errors": [{**item, "error": item} for item in flat]}
    assert errors.error_body(*refused, shape=errors.SIMPLE) == {
        "errors": flat,
        "error": {"code": 422, "message": "name is required", "fields": ["name"]}}


def test_chalice_errors_are_rewritten_and_other_bodies_left_alone() -> None:
    rewritten = errors.from_chalice_error(405, {"Code": "MethodNotAllowedError",
                                                "Message": "Unsupported method: PATCH"})
    assert rewritten is not None
    assert (rewritten.status, rewritten.type) == (405, "MethodNotAllowed")
    assert errors.from_chalice_error(400, {"data": {"Code": 1}}) is None
    assert errors.from_chalice_error(400, "text") is None
