"""The resource registry: field checks, defaults, edits, and agreement with Clockodo's API."""
from __future__ import annotations

import functools
from typing import Any

import pytest

from chalicelib import resources
from chalicelib.errors import Unprocessable
from chalicelib.resources import Field, check_create, check_edit, check_value


def refused(call, *args: Any) -> dict[str, Any]:
    with pytest.raises(Unprocessable) as caught:
        call(*args)
    return caught.value.to_error()


@pytest.mark.parametrize(("field", "value", "expected"), [
    (Field("n", "string", max_length=3), "abc", "abc"),
    (Field("n", "integer", minimum=1, maximum=5), 5, 5),
    (Field("n", "number"), 1, 1),
    (Field("n", "number"), 1.5, 1.5),
    (Field("n", "number"), 1e-300, 0.0),
    (Field("n", "number"), 2.123456789, 2.123457),
    (Field("n", "boolean"), False, False),
    (Field("n", "date"), "2026-02-28", "2026-02-28"),
    (Field("n", "datetime"), "2026-02-28T12:00:00Z", "2026-02-28T12:00:00Z"),
    (Field("n", "datetime"), "2026-02-28T13:00:00+01:00", "2026-02-28T12:00:00Z"),
    (Field("n", "ids"), [3, 1, 3], [1, 3]),
    (Field("n", "datetime"), "0999-12-31T23:00:00Z", "0999-12-31T23:00:00Z"),
    (Field("n", "datetime"), "1000-01-01T00:30:00+01:00", "0999-12-31T23:30:00Z"),
    (Field("n", "datetime"), "0001-01-01T00:00:00Z", "0001-01-01T00:00:00Z"),
    (Field("n", "date"), "0999-02-28", "0999-02-28"),
    (Field("n", "budget", maximum=100), {"amount": 10.5, "notification_thresholds": [80, 50, 80]},
     {"amount": 10.5, "monetary": False, "hard": False, "notification_thresholds": [50, 80],
      "from_subprojects": False, "interval": None}),
    (Field("n", "budget", maximum=100), {"amount": None, "from_subprojects": True},
     {"amount": None, "monetary": False, "hard": False, "notification_thresholds": [],
      "from_subprojects": True, "interval": None}),
    (Field("n", "subproject_budget", maximum=100), {"amount": 3, "monetary": True, "hard": True},
     {"amount": 3, "monetary": True, "hard": True, "notification_thresholds": []}),
    (Field("n", "string", nullable=True), None, None),
    (Field("n", "email"), "a@b.de", "a@b.de"),
    (Field("n", "integer", enum=(1, 2)), 2, 2),
])
def test_values_that_fit(field: Field, value: Any, expected: Any) -> None:
    assert check_value(field, value) == expected


@pytest.mark.parametrize(("field", "value", "type_"), [
    (Field("n", "string", max_length=3), "abcd", "NotBetween"),
    (Field("n", "string"), 5, "UnexpectedValue"),
    (Field("n", "integer"), True, "UnexpectedValue"),
    (Field("n", "integer"), 1.0, "UnexpectedValue"),
    (Field("n", "integer"), "1", "UnexpectedValue"),
    (Field("n", "integer"), 2**60, "NotBetween"),
    (Field("n", "integer", minimum=1, maximum=5), 6, "NotBetween"),
    (Field("n", "number"), "1.5", "UnexpectedValue"),
    (Field("n", "number"), True, "UnexpectedValue"),
    (Field("n", "boolean"), 1, "UnexpectedValue"),
    (Field("n", "date"), "2026-02-30", "UnexpectedValue"),
    (Field("n", "date"), "20260228", "UnexpectedValue"),
    (Field("n", "datetime"), "2026-02-28T12:00:00", "UnexpectedValue"),
    (Field("n", "datetime"), "yesterday", "UnexpectedValue"),
    (Field("n", "ids"), [1, "2"], "UnexpectedValue"),
    (Field("n", "ids"), [0], "UnexpectedValue"),
    (Field("n", "date"), "\u0662\u0660\u0662\u0666-01-01", "UnexpectedValue"),
    (Field("n", "datetime"), "0001-01-01T00:00:00+01:00", "UnexpectedValue"),
    (Field("n", "budget", maximum=100), [], "UnexpectedValue"),
    (Field("n", "string"), None, "Empty"),
    (Field("n", "email"), "no-at", "UnexpectedValue"),
    (Field("n", "email"), "a@localhost", "UnexpectedValue"),
    # found by the fuzzer: accepted, then answered against the document
    (Field("n", "email"), "\u00de\u00a2@v\u0087.\b\u00b0o", "UnexpectedValue"),
    (Field("n", "email"), ".a@b.de", "UnexpectedValue"),
    (Field("n", "email"), "a@b.de\n", "UnexpectedValue"),
    (Field("n", "date"), "2026-01-01\n", "UnexpectedValue"),
    (Field("n", "integer", enum=(1, 2)), 3, "UnexpectedValue"),
    (Field("n", "changes"), [], "UnexpectedValue"),
    (Field("n", "changes"), [{"type": 3, "time_since": "2026-01-01T10:00:00Z",
                              "time_until": "2026-01-01T11:00:00Z"}], "UnexpectedValue"),
    (Field("n", "changes"), [{"type": 1, "time_since": "2026-01-01T12:00:00Z",
                              "time_until": "2026-01-01T11:00:00Z"}], "EndBeforeStart"),
])
def test_values_that_do_not_fit(field: Field, value: Any, type_: str) -> None:
    error = refused(check_value, field, value)
    assert (error["type"], error["path"]) == (type_, "n")


def test_create_fills_defaults_and_needs_required_fields() -> None:
    customer = resources.get("customer")
    data = check_create(customer, {"name": "Acme"})
    assert data == {"name": "Acme", "number": None, "active": True, "billable_default": True,
                    "note": None, "color": 1, "bill_service_id": None,
                    "service_assignments": [], "test_data": False}
    assert refused(check_create, customer, {})["type"] == "Empty"
    assert refused(check_create, customer, {"name": "  "})["type"] == "Empty"
    assert refused(check_create, customer, {"name": "a", "colour": 1})["type"] == \
        "UnknownField"
    assert refused(check_create, customer, {"name": "a", "id": 5})["type"] == "ForbiddenValue"


def test_read_only_and_create_only_fields() -> None:
    project = resources.get("project")
    assert refused(check_create, project, {"name": "p", "customers_id": 1,
                                           "completed": True})["type"] == "ForbiddenValue"
    absence = resources.get("absence")
    current = check_create(absence, {"date_since": "2026-01-05", "type": 1, "users_id": 3})
    assert refused(check_edit, absence, current, {"users_id": 4})["type"] == "ForbiddenValue"
    assert check_edit(absence, current, {"status": 1})["status"] == 1
    assert refused(check_edit, absence, current, {})["type"] == "Empty"
    assert refused(check_edit, absence, current, {"type": None})["type"] == "Empty"


def test_ends_may_not_come_before_starts() -> None:
    absence = resources.get("absence")
    error = refused(check_create, absence, {"date_since": "2026-01-05", "type": 1,
                                            "users_id": 3, "date_until": "2026-01-04"})
    assert (error["type"], error["path"]) == ("EndBeforeStart", "date_until")
    entry = resources.get("entry")
    running = check_create(entry, {"customers_id": 1, "services_id": 2, "billable": 1,
                                   "time_since": "2026-01-01T10:00:00Z"})
    assert running["time_until"] is None
    assert refused(check_edit, entry, running,
                   {"time_until": "2026-01-01T09:00:00Z"})["type"] == "EndBeforeStart"
    stopped = check_edit(entry, running, {"time_until": "2026-01-01T11:00:00+00:00"})
    assert stopped["time_until"] == "2026-01-01T11:00:00Z"


def test_references_list_every_id_a_resource_points_at() -> None:
    team = resources.get("team")
    data = check_create(team, {"name": "t", "leader": 5, "user_ids": [7, 6]})
    assert resources.references(team, data) == [("leader", "user", 5), ("user_ids", "user", 6),
                                                ("user_ids", "user", 7)]


def test_every_reference_names_a_type_of_the_registry() -> None:
    for resource in resources.TYPES:
        for field in resource.fields:
            assert field.ref is None or field.ref in resources.by_name()


# --- agreement with Clockodo's own API description (read from outside the project) --------

@functools.cache
def _clockodo() -> dict[str, Any]:
    import yaml

    from tests.reference import webhooks_reference

    path = webhooks_reference().with_name("resources.yaml")
    return dict(yaml.safe_load(path.read_text(encoding="utf-8")))


def _properties(document: dict[str, Any], schema: dict[str, Any]) -> tuple[set[str], set[str]]:
    schemas = document["components"]["schemas"]
    while "$ref" in schema:
        schema = schemas[schema["$ref"].rsplit("/", 1)[1]]
    if "oneOf" in schema:  # entries: time entries, lump sums; all required as time entries
        variants = [_properties(document, v) for v in schema["oneOf"]]
        return set().union(*(p for p, _ in variants)), variants[0][1]
    return set(schema.get("properties", {})), set(schema.get("required", []))


@pytest.mark.parametrize("resource", resources.TYPES, ids=lambda r: r.name)
def test_paths_fields_and_required_fields_match_clockodo(resource: resources.ResourceType) -> None:
    document = _clockodo()
    operations = document["paths"][resource.path]
    assert {"get", "post"} <= set(operations)
    create = operations["post"]["requestBody"]["content"]["application/json"]["schema"]
    properties, required = _properties(document, create)
    ours = {f.name for f in resource.fields if not f.read_only}
    assert ours <= properties | {"users_id", "status"}, ours - properties
    # what Clockodo requires we require (time_until is optional here: a running entry)
    assert required - {"time_until"} <= {f.name for f in resource.fields if f.required}
    listing = operations["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert resource.list_key in listing["properties"]
    assert ("paging" in listing["properties"]) == resource.paged


def test_one_iso_parser_serves_resources_and_recovery() -> None:
    from chalicelib import clock

    assert clock.parse_iso("2026-02-28T13:00:00+01:00").isoformat() == \
        "2026-02-28T12:00:00+00:00"
    for bad in ("2026-02-28T12:00:00", "0001-01-01T00:00:00+14:00", "soon"):
        with pytest.raises(ValueError):
            clock.parse_iso(bad)


@pytest.mark.parametrize(("budget", "type_", "path"), [
    ({"amount": 1e-300}, "NotBetween", "budget.amount"),  # rounds to 0: no budget
    ({"amount": 0}, "NotBetween", "budget.amount"),
    ({"amount": 1e308}, "NotBetween", "budget.amount"),
    ({"amount": 100.01}, "NotBetween", "budget.amount"),
    ({"amount": 5, "": 1}, "UnknownField", "budget."),
    ({"amount": 5, "unit": "h"}, "UnknownField", "budget.unit"),
    ({"hard": True}, "Empty", "budget.amount"),
    ({"amount": 5, "hard": 1}, "UnexpectedValue", "budget.hard"),
    ({"amount": 5, "from_subprojects": True}, "UnexpectedValue", "budget.amount"),
    ({"amount": 5, "interval": 4}, "UnexpectedValue", "budget.interval"),
    ({"amount": 5, "notification_thresholds": [55]}, "UnexpectedValue",
     "budget.notification_thresholds"),
    ({"amount": 5, "notification_thresholds": [1e-300]}, "UnexpectedValue",
     "budget.notification_thresholds"),
    ({"amount": 5, "notification_thresholds": [True]}, "UnexpectedValue",
     "budget.notification_thresholds"),
])
def test_budgets_hold_only_clockodos_keys_and_storable_numbers(budget: dict[str, Any],
                                                                type_: str, path: str) -> None:
    error = refused(check_value, Field("budget", "budget", maximum=100), budget)
    assert (error["type"], error["path"]) == (type_, path)


def test_subproject_budgets_have_no_interval_nor_source() -> None:
    field = Field("budget", "subproject_budget", maximum=100)
    for key in ("interval", "from_subprojects"):
        assert refused(check_value, field, {"amount": 1, key: None})["type"] == "UnknownField"


def test_date_times_before_the_year_1000_keep_four_digits_and_their_order() -> None:
    from chalicelib import clock

    assert clock.iso(-62135596800) == "0001-01-01T00:00:00Z"
    entry = resources.get("entry")
    running = check_create(entry, {"customers_id": 1, "services_id": 2, "billable": 1,
                                   "time_since": "0999-12-31T23:00:00Z"})
    assert running["time_since"] == "0999-12-31T23:00:00Z"
    stopped = check_edit(entry, running, {"time_until": "2026-01-01T00:00:00Z"})
    assert stopped["time_until"] == "2026-01-01T00:00:00Z"
    assert refused(check_edit, entry, running,
                   {"time_until": "0999-12-31T22:00:00Z"})["type"] == "EndBeforeStart"


def test_a_duration_past_the_year_9999_is_refused() -> None:
    entry = resources.get("entry")
    error = refused(check_create, entry, {"customers_id": 1, "services_id": 2, "billable": 1,
                                          "users_id": 3, "time_since": "9999-12-31T00:00:00Z",
                                          "duration": 10**10})
    assert (error["type"], error["path"]) == ("NotBetween", "duration")
