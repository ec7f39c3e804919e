"""The one registry of Clockodo's resource types: paths, envelopes, fields and events.

Each ``ResourceType`` says where the type lives in the API, how its items and lists are
wrapped, which fields it has (type, limits, defaults, references to other types), and
which transitions raise events beyond created/updated/deleted. The resource API, the
event derivation and the OpenAPI document all read this table: adding a type is one entry.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache
from typing import Any

from chalicelib import clock
from chalicelib.errors import NESTED, SIMPLE, Unprocessable

Item = Mapping[str, Any]
#: ``(old data or None, new data or None) -> bool``: whether a transition happened.
Predicate = Callable[[Item | None, Item | None], bool]

_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")  # ASCII digits only
# an RFC 5321 dot-atom address with a dotted ASCII domain: what every e-mail format
# checker accepts (the document says "format": "email")
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]"
_LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
EMAIL_PATTERN = rf"^(?=[^@]{{1,64}}@){_ATEXT}+(\.{_ATEXT}+)*@{_LABEL}(\.{_LABEL})+$"
TIMEZONE_PATTERN = r"^[A-Za-z_]+(/[A-Za-z0-9_+-]+){0,2}$"
_EMAIL = re.compile(EMAIL_PATTERN)
_TIMEZONE = re.compile(TIMEZONE_PATTERN)
MAX_LIST = 500
MAX_INTEGER = 2**53  # integers stay JSON-safe
MAX_DATETIME_LENGTH = 40


@dataclass(frozen=True)
class Field:
    """One field of a resource, as Clockodo's API documents it."""

    name: str
    kind: str  # string, email, integer, number, boolean, date, datetime, budget,
    # subproject_budget, ids, changes
    required: bool = False  # on create
    nullable: bool = False
    default: Any = None  # on create, when absent
    max_length: int | None = None
    minimum: float | None = None
    maximum: float | None = None
    enum: tuple[Any, ...] | None = None
    ref: str | None = None  # another resource type the value (or each value) is an id of
    create_only: bool = False  # PUT may not change it
    read_only: bool = False  # only the server (or a dedicated route) sets it


@dataclass(frozen=True)
class Param:
    """A query parameter of Clockodo's document for a type's list (or item) route.

    ``match`` says how it narrows the list: ``eq`` (the item's ``fields[0]`` equals the
    value, or one of the values when ``many``), ``text`` (the value, case-insensitively,
    is part of one of ``fields``), ``year`` (a year lies between ``fields[0]`` and
    ``fields[1]``, or equals the year of ``fields[0]``), ``since``/``until`` (the item's
    ``fields`` span reaches from/up to the value), ``team`` (the user ``fields[0]`` is in
    one of the teams, 0: in none), ``user_active`` (that user is active, or not) or
    ``none``: accepted and checked, but it
    concerns what this service does not keep (permissions, reports), so it has no effect.
    """

    name: str
    kind: str  # boolean, integer, string, date, datetime
    match: str = "eq"
    fields: tuple[str, ...] = ()
    many: bool = False  # "1,2", or name[]=1&name[]=2
    required: bool = False
    enum: tuple[Any, ...] | None = None
    minimum: int | None = None
    maximum: int | None = None
    note: str = ""


def _filter(name: str, kind: str, match: str = "eq", *fields: str, **kw: Any) -> Param:
    """``filter[name]`` on the field of the same name unless ``fields`` are given."""
    return Param(f"filter[{name}]", kind, match, fields or (name,), **kw)


def _no_effect(name: str, kind: str, note: str, **kw: Any) -> Param:
    return Param(name, kind, "none", note=note, **kw)


def _scope(*values: str) -> Param:
    return _no_effect("scope", "string", "permissions: an API key acts for its whole company",
                      enum=values)


ACTIVE_FILTER = _filter("active", "boolean")
USER_SCOPE = _scope("manageAbsences", "viewAbsences", "viewUserReports",
                    "viewUserReportsDetailed", "viewPresences")
#: ``DELETE …/{id}`` of the types whose deletion Clockodo lets a client try first.
DELETE_OPTIONS = (
    Param("dry_run", "boolean", "none", note="true: check the deletion and answer as it "
                                             "would, without deleting"),
    _no_effect("force", "boolean", "no deletion here waits for confirmation"),
)


def _master_data(*extra: Param, scope: bool = True) -> tuple[Param, ...]:
    """The list parameters of customers, projects, services and the like."""
    return (ACTIVE_FILTER, _filter("fulltext", "string", "text", "name", "number", "note"),
            *extra, *((_scope("manageAccess"),) if scope else ()))


def _per_user_year() -> tuple[Param, ...]:
    return (Param("users_id", "integer", fields=("users_id",), minimum=1),
            Param("year", "integer", "year", ("year",), minimum=2000, maximum=2037))


@dataclass(frozen=True)
class Transition:
    """An extra event (``<type>.<action>``) raised when ``happened(old, new)``."""

    action: str
    happened: Predicate


@dataclass(frozen=True)
class ResourceType:
    name: str  # the webhook type and the payload key
    label_en: str
    label_de: str
    path: str  # Clockodo's collection path
    fields: tuple[Field, ...]
    item_key: str = "data"
    list_key: str = "data"
    paged: bool = True
    completable: bool = False  # has PUT {path}/{id}/complete
    transitions: tuple[Transition, ...] = ()
    order: tuple[str, str] | None = None  # (earlier, later) fields that must not be reversed
    other_events: tuple[str, ...] = ()  # actions raised elsewhere than by a change
    params: tuple[Param, ...] = ()  # the list route's, beside page and items_per_page
    sorts: tuple[str, ...] = ()  # fields ``sort`` may name (``-name``: descending)
    max_items_per_page: int = 1000
    item_params: tuple[Param, ...] = ()  # GET …/{id}
    delete_params: tuple[Param, ...] = ()  # DELETE …/{id}
    #: ``(old data or None, new data, now) -> new data`` with the computed fields filled in
    #: (initials, duration, …); may refuse combinations with ``Unprocessable``. Pure.
    derive: Callable[[Item | None, dict[str, Any], str], dict[str, Any]] | None = None
    create_extra: tuple[tuple[str, Any], ...] = ()  # more keys of the create answer
    delete_answer: tuple[tuple[str, Any], ...] = (("success", True),)

    @property
    def field_map(self) -> dict[str, Field]:
        return {f.name: f for f in self.fields}

    @property
    def actions(self) -> tuple[str, ...]:
        """Every action of the type's event names, in catalogue order."""
        return ("created", "updated", "deleted",
                *(t.action for t in self.transitions), *self.other_events)


def _became(field: str, value: Any) -> Predicate:
    def happened(old: Item | None, new: Item | None) -> bool:
        return new is not None and new.get(field) == value and \
            (old is None or old.get(field) != value)
    return happened


def _entry_started(old: Item | None, new: Item | None) -> bool:
    return old is None and new is not None and new.get("time_until") is None \
        and new.get("type", 1) == 1  # lump sums have no clock


def _entry_stopped(old: Item | None, new: Item | None) -> bool:
    return old is not None and new is not None and old.get("time_until") is None \
        and new.get("time_until") is not None


def _text(name: str, max_length: int, **kw: Any) -> Field:
    return Field(name, "string", max_length=max_length, **kw)


def _note(name: str = "note", max_length: int = 1000) -> Field:
    return Field(name, "string", nullable=True, max_length=max_length)


def _computed(name: str, kind: str, default: Any = None, **kw: Any) -> Field:
    """A field only the service writes (``derive`` or a dedicated route)."""
    return Field(name, kind, read_only=True, default=default, nullable=default is None, **kw)


def _last_change(old: Item | None, new: dict[str, Any], now: str, name: str) -> str:
    """``now`` if a business field changed (or on create), else the old value, so that a
    write that changes nothing changes nothing (and raises no event)."""
    if old is None:
        return now
    unchanged = {k: v for k, v in old.items() if k != name} == \
        {k: v for k, v in new.items() if k != name}
    return str(old.get(name)) if unchanged and old.get(name) else now


def _initials(name: str) -> str:
    words = [w for w in name.replace("-", " ").split() if w[:1].isalpha()]
    letters = "".join(w[0] for w in words[:2]) if len(words) > 1 else name.strip()[:2]
    return letters.upper() or "?"


def _derive_user(old: Item | None, new: dict[str, Any], now: str) -> dict[str, Any]:
    return {**new, "initials": _initials(new["name"]),
            "created_at": old["created_at"] if old and old.get("created_at") else now}


def _workdays(since: str, until: str) -> int:
    start, end = date.fromisoformat(since), date.fromisoformat(until)
    days = (end - start).days + 1
    weeks, rest = divmod(days, 7)
    return weeks * 5 + sum((start.weekday() + i) % 7 < 5 for i in range(rest))


def _derive_absence(old: Item | None, new: dict[str, Any], now: str) -> dict[str, Any]:
    if new.get("date_until") is None:  # one day
        new = {**new, "date_until": new["date_since"]}
    if new["type"] != 3 and new.get("count_hours") is not None:
        raise Unprocessable("count_hours is for absences of type 3 (reduction of overtime) "
                            "only", path="count_hours", type="ForbiddenValue",
                            details={"allowed_values": [None]})
    days = 0.5 if new.get("half_day") else float(_workdays(new["date_since"],
                                                            new["date_until"]))
    return {**new, "count_days": days}


def _derive_customer(old: Item | None, new: dict[str, Any], now: str) -> dict[str, Any]:
    # Clockodo always answers a colour; null asks for the default one
    return {**new, "color": new.get("color") or 1}


def _derive_completion(old: Item | None, new: dict[str, Any], now: str) -> dict[str, Any]:
    if not new.get("completed"):
        return {**new, "completed_at": None}
    was = old.get("completed_at") if old and old.get("completed") else None
    return {**new, "completed_at": was or now}


def _derive_change_request(old: Item | None, new: dict[str, Any],
                           now: str) -> dict[str, Any]:
    return {**new, "created_at": old["created_at"] if old and old.get("created_at") else now}


ENTRY_TIME, ENTRY_LUMPSUM_VALUE, ENTRY_LUMPSUM_SERVICE = 1, 2, 3


def _derive_entry(old: Item | None, new: dict[str, Any], now: str) -> dict[str, Any]:
    """An entry's type (time, lump-sum value, lump-sum service), duration, clock and
    times, as Clockodo computes them."""
    lumpsum, service = new.get("lumpsum"), new.get("lumpsum_services_id")
    if lumpsum is not None and service is not None:
        raise Unprocessable("an entry is a lump sum (lumpsum) or a lump-sum service "
                            "(lumpsum_services_id), not both", path="lumpsum",
                            type="ForbiddenValue", details={"allowed_values": [None]})
    kind = ENTRY_LUMPSUM_VALUE if lumpsum is not None else \
        ENTRY_LUMPSUM_SERVICE if service is not None else ENTRY_TIME
    if kind == ENTRY_LUMPSUM_SERVICE and new.get("lumpsum_services_amount") is None:
        raise Unprocessable("lumpsum_services_amount is required with lumpsum_services_id",
                            path="lumpsum_services_amount", type="Empty")
    if kind != ENTRY_LUMPSUM_SERVICE:
        new = {**new, "lumpsum_services_amount": None}
    if kind != ENTRY_TIME and new["billable"] == 0:
        raise Unprocessable("lump sums are billable (1) or billed (2)", path="billable",
                            type="UnexpectedValue", details={"expected_values": ["1", "2"]})
    since, until = new["time_since"], new.get("time_until")
    if kind == ENTRY_TIME and until is None and new.get("duration") and \
            (old is None or old.get("duration") != new.get("duration")):
        try:
            until = clock.format_utc(clock.parse_iso(since) +
                                     timedelta(seconds=new["duration"]))
        except OverflowError:
            raise Unprocessable("time_since + duration is after the year 9999",
                                path="duration", type="NotBetween") from None
    duration = None
    if kind == ENTRY_TIME and until is not None:
        duration = int((clock.parse_iso(until) - clock.parse_iso(since)).total_seconds())
    clocked = old["clocked"] if old else (kind == ENTRY_TIME and until is None)
    derived = {**new, "type": kind, "time_until": until, "duration": duration,
               "clocked": clocked,
               "time_clocked_since": new.get("time_clocked_since") or
               (since if clocked else None),
               "time_insert": old["time_insert"] if old and old.get("time_insert") else now}
    changed = _last_change(old, derived, now, "time_last_change")
    return {**derived, "time_last_change": changed, "time_last_change_work_time": changed}


#: Absences' and entries' user: Clockodo's default is the API user's own user (the API
#: fills it in), so it is never null in an answer.
OWN_USER = Field("users_id", "integer", ref="user", create_only=True)
SERVICE_ASSIGNMENTS = Field("service_assignments", "ids", default=(), ref="service")
BILL_SERVICE_ID = _text("bill_service_id", 50, nullable=True)
TEST_DATA = _computed("test_data", "boolean", default=False)
COMPLETED_AT = _computed("completed_at", "datetime")
NUMBER = _text("number", 50, nullable=True)
ACTIVE = Field("active", "boolean", default=True)
BILLABLE_DEFAULT = Field("billable_default", "boolean", default=True)
#: Clockodo's budget notification thresholds (percent of the budget used).
THRESHOLDS = (10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110, 120, 130, 140, 150, 200, 250, 300)
#: Clockodo's budget intervals (retainer projects): weekly, monthly, quarterly, yearly.
BUDGET_INTERVALS = (0, 1, 2, 3)
#: The keys of a budget object: projects have all, subprojects the first four.
BUDGET_KEYS = ("amount", "monetary", "hard", "notification_thresholds", "from_subprojects",
               "interval")
SUBPROJECT_BUDGET_KEYS = BUDGET_KEYS[:4]

TYPES: tuple[ResourceType, ...] = (
    ResourceType("user", "User", "Nutzer", "/v3/users", (
        Field("email", "email", required=True, max_length=90),
        _text("name", 100, required=True),
        Field("role", "string", required=True, enum=("owner", "worker")),
        ACTIVE, NUMBER,
        Field("teams_id", "integer", nullable=True, ref="team"),
        Field("language", "string", enum=("de", "en", "fr"), default="de"),
        Field("timezone", "string", max_length=64, default="Europe/Berlin"),
        Field("start_date", "date", nullable=True),
        Field("boss", "integer", nullable=True, ref="user"),
        Field("timeformat_12h", "boolean", default=False),
        Field("wage_type", "integer", enum=(1, 2), default=1),
        Field("weekstart_monday", "boolean", default=True),
        Field("show_favorites", "boolean", default=True),
        Field("mail_to_user", "boolean", default=False),
        Field("budget_notifications", "boolean", default=False),
        Field("edit_lock", "date", nullable=True),
        Field("edit_lock_dyn", "integer", nullable=True, enum=(1, 2, 3, 5, 8, 15, 31, 46, 91)),
        Field("edit_lock_sync", "boolean", default=False),
        Field("work_time_edit_lock_days", "integer", nullable=True,
              enum=(0, 1, 2, 3, 5, 8, 15, 31, 46, 91)),
        Field("default_holidays_count", "boolean", default=True),
        Field("default_target_hours", "boolean", default=True),
        Field("work_time_regulations_id", "integer", nullable=True, minimum=1),
        Field("default_work_time_regulation", "boolean", default=True),
        Field("exempt_from_flextime", "boolean", default=False),
        Field("absence_managers_id", "ids", default=(), ref="user"),
        Field("access_groups_ids", "ids", default=()),
        BILL_SERVICE_ID,
        _computed("weekend_friday", "boolean", default=False),
        _computed("nonbusiness_groups_id", "integer"),
        _computed("initials", "string", default=""),
        _computed("created_at", "datetime"),
    ), derive=_derive_user,
        params=(ACTIVE_FILTER, _filter("fulltext", "string", "text", "name", "email", "number"),
                _filter("teams_id", "integer", many=True, minimum=0,
                        note="0: users in no team"),
                USER_SCOPE),
        sorts=("active", "id", "name", "number", "role", "teams_name"),
        item_params=(USER_SCOPE,), delete_params=DELETE_OPTIONS),
    ResourceType("absence", "Absence", "Abwesenheiten", "/v4/absences", (
        Field("date_since", "date", required=True),
        Field("date_until", "date", nullable=True),
        Field("type", "integer", required=True, enum=tuple(range(1, 16))),
        OWN_USER,
        Field("half_day", "boolean", default=False),
        Field("count_hours", "number", nullable=True, minimum=0.01, maximum=1000),
        Field("status", "integer", enum=(0, 1, 2, 3, 4), default=0),
        Field("sick_note", "boolean", default=False),
        _note("note", 512), _note("public_note", 512),
        Field("allow_override", "ids", default=()),
        _computed("count_days", "number", default=0),
    ), derive=_derive_absence, paged=False,
        transitions=(Transition("approved", _became("status", 1)),),
        order=("date_since", "date_until"), params=(
            _filter("status", "integer", many=True, enum=(0, 1, 2, 3, 4)),
            _filter("type", "integer", many=True, enum=tuple(range(1, 16))),
            _filter("users_id", "integer", many=True, minimum=1),
            _filter("year", "integer", "year", "date_since", "date_until", many=True,
                    minimum=2000, maximum=2037),
            Param("filter[teams_id]", "integer", "team", ("users_id",), many=True, minimum=1,
                  note="absences of the users in these teams"),
            Param("filter[users_active]", "boolean", "user_active", ("users_id",),
                  note="absences of active (true) or inactive (false) users"),
            _scope("manageableAbsences", "viewableAbsences"))),
    ResourceType("customer", "Customer", "Kunde", "/v3/customers", (
        _text("name", 100, required=True), NUMBER, ACTIVE, BILLABLE_DEFAULT, _note(),
        Field("color", "integer", nullable=True, enum=tuple(range(1, 10))),
        BILL_SERVICE_ID, SERVICE_ASSIGNMENTS, TEST_DATA,
    ), derive=_derive_customer, params=_master_data(), sorts=("active", "id", "name"),
        max_items_per_page=5000,
        delete_params=DELETE_OPTIONS),
    ResourceType("project", "Project", "Projekt", "/v4/projects", (
        _text("name", 100, required=True),
        Field("customers_id", "integer", required=True, ref="customer"),
        NUMBER, ACTIVE, BILLABLE_DEFAULT, _note(),
        Field("start_date", "date", nullable=True), Field("deadline", "date", nullable=True),
        Field("automatic_completion", "boolean", default=False),
        Field("budget", "budget", nullable=True, maximum=99999999),
        Field("completed", "boolean", default=False, read_only=True),
        COMPLETED_AT, BILL_SERVICE_ID, SERVICE_ASSIGNMENTS, TEST_DATA,
    ), derive=_derive_completion, completable=True,
        transitions=(Transition("completed", _became("completed", True)),),
        order=("start_date", "deadline"), other_events=("budget_notification",),
        params=_master_data(_filter("completed", "boolean"),
                            _filter("customers_id", "integer", minimum=1)),
        sorts=("active", "id", "name"), max_items_per_page=5000, delete_params=DELETE_OPTIONS),
    ResourceType("subproject", "Subproject", "Unterprojekt", "/v3/subprojects", (
        Field("projects_id", "integer", required=True, ref="project", create_only=True),
        _text("name", 100, required=True), NUMBER, ACTIVE, BILLABLE_DEFAULT, _note(),
        Field("start_date", "date", nullable=True), Field("deadline", "date", nullable=True),
        Field("automatic_completion", "boolean", default=False),
        Field("budget", "subproject_budget", nullable=True, maximum=99999999.99),
        Field("completed", "boolean", default=False, read_only=True),
        COMPLETED_AT, BILL_SERVICE_ID, SERVICE_ASSIGNMENTS,
        _computed("billed", "integer"), _computed("billed_money", "number"),
        _computed("billed_completely", "boolean"),
    ), derive=_derive_completion, completable=True, order=("start_date", "deadline"),
        params=_master_data(_filter("completed", "boolean"),
                            _filter("projects_id", "integer", minimum=1), scope=False),
        sorts=("active", "id", "name"), max_items_per_page=5000, delete_params=DELETE_OPTIONS),
    ResourceType("service", "Service", "Leistung", "/v4/services", (
        _text("name", 100, required=True), NUMBER, ACTIVE, _note(), BILL_SERVICE_ID,
    ), params=_master_data(), sorts=("active", "id", "name"), max_items_per_page=5000,
        delete_params=DELETE_OPTIONS),
    ResourceType("lump_sum_service", "Lump-sum service", "Pauschalleistung",
                 "/v4/lumpSumServices", (
        _text("name", 100, required=True),
        Field("price", "number", required=True, minimum=-99999999.99, maximum=99999999.99),
        _text("unit", 6, nullable=True), NUMBER, ACTIVE, _note(),
    ), params=_master_data(scope=False), sorts=("active", "id", "name"),
        max_items_per_page=5000, delete_params=DELETE_OPTIONS),
    ResourceType("team", "Team", "Team", "/v3/teams", (
        _text("name", 100, required=True),
        Field("leader", "integer", nullable=True, ref="user"),
        Field("user_ids", "ids", default=(), ref="user"),
    ), params=(_filter("fulltext", "string", "text", "name"), USER_SCOPE),
        sorts=("id", "name")),
    ResourceType("holidays_quota", "Holiday quota", "Urlaubskontingent", "/v2/holidaysQuota", (
        Field("users_id", "integer", required=True, ref="user", create_only=True),
        Field("year_since", "integer", required=True, minimum=2000, maximum=2037),
        Field("year_until", "integer", nullable=True, minimum=2000, maximum=2037),
        Field("count", "number", required=True, minimum=0, maximum=365),
        _note(),
    ), paged=False, order=("year_since", "year_until"), params=(
        _filter("users_id", "integer", minimum=1),
        _filter("year", "integer", "year", "year_since", "year_until", minimum=2000,
                maximum=2037),
        Param("users_id", "integer", fields=("users_id",), minimum=1),
        Param("year", "integer", "year", ("year_since", "year_until"), minimum=2000,
              maximum=2037))),
    ResourceType("holidays_carry", "Holiday carryover", "Urlaubsübertrag", "/v3/holidaysCarry", (
        Field("users_id", "integer", required=True, ref="user", create_only=True),
        Field("year", "integer", required=True, minimum=2000, maximum=2037),
        Field("count", "number", required=True, minimum=-9999, maximum=9999),
        _note(),
    ), paged=False, params=_per_user_year()),
    ResourceType("overtime_carry", "Overtime carryover", "Überstundenübertrag",
                 "/v3/overtimeCarry", (
        Field("users_id", "integer", required=True, ref="user", create_only=True),
        Field("year", "integer", required=True, minimum=2000, maximum=2037),
        Field("hours", "number", required=True, minimum=-999, maximum=999),
        _note(),
    ), paged=False, params=_per_user_year()),
    ResourceType("nonbusiness_group", "Non-business day group", "Feiertagsgruppe",
                 "/v2/nonbusinessGroups", (
        _text("name", 100, required=True),
        Field("preset", "string", nullable=True, max_length=32, create_only=True),
        _computed("company_default", "boolean", default=False),
    ), paged=False),
    ResourceType("work_time_change_request", "Work time change request",
                 "Arbeitszeitanpassungen und Anträge", "/v2/workTimes/changeRequests", (
        Field("date", "date", required=True),
        Field("users_id", "integer", required=True, ref="user", create_only=True),
        Field("changes", "changes", required=True),
        Field("status", "integer", enum=(1, 2), default=1),
        _computed("created_at", "datetime"), _computed("declined_at", "datetime"),
        _computed("declined_by", "integer"),
    ), item_key="change_request", list_key="change_requests", derive=_derive_change_request,
        create_extra=(("replaced_change_request", None), ("approved_immediately", False)),
        delete_answer=(("change_request", None),), params=(
        Param("date_since", "date", "since", ("date",)),
        Param("date_until", "date", "until", ("date",)),
        Param("status", "integer", fields=("status",), enum=(1, 2)),
        Param("users_id", "integer", fields=("users_id",), minimum=1),
        Param("teams_id", "integer", "team", ("users_id",), many=True, minimum=0,
              note="change requests of the users in these teams (0: in no team)"),
        _scope("approve")), sorts=("date", "id")),
    ResourceType("entry", "Time entry", "Zeiteintrag", "/v2/entries", (
        Field("customers_id", "integer", required=True, ref="customer"),
        Field("services_id", "integer", required=True, ref="service"),
        Field("billable", "integer", required=True, enum=(0, 1, 2)),
        Field("time_since", "datetime", required=True),
        Field("time_until", "datetime", nullable=True),
        Field("projects_id", "integer", nullable=True, ref="project"),
        Field("subprojects_id", "integer", nullable=True, ref="subproject"),
        OWN_USER,
        Field("text", "string", nullable=True, max_length=10000),
        Field("hourly_rate", "number", default=0, minimum=0, maximum=99999999.99),
        Field("lumpsum", "number", nullable=True, minimum=0, maximum=99999999.99),
        Field("lumpsum_services_id", "integer", nullable=True, ref="lump_sum_service"),
        Field("lumpsum_services_amount", "number", nullable=True, minimum=0,
              maximum=99999999.99),
        Field("duration", "integer", nullable=True, minimum=0, maximum=10**10),
        Field("time_clocked_since", "datetime", nullable=True),
        Field("clocked_offline", "boolean", default=False),
        _computed("type", "integer", default=ENTRY_TIME,
                  enum=(ENTRY_TIME, ENTRY_LUMPSUM_VALUE, ENTRY_LUMPSUM_SERVICE)),
        _computed("clocked", "boolean", default=False),
        _computed("texts_id", "integer"), TEST_DATA,
        _computed("time_insert", "datetime"), _computed("time_last_change", "datetime"),
        _computed("time_last_change_work_time", "datetime"),
    ), item_key="entry", list_key="entries", derive=_derive_entry,
        transitions=(Transition("started", _entry_started), Transition("stopped", _entry_stopped)),
        order=("time_since", "time_until"), params=(
            Param("time_since", "datetime", "since", ("time_since", "time_until"),
                  required=True, note="entries that end after it (running ones too)"),
            Param("time_until", "datetime", "until", ("time_since", "time_until"),
                  required=True, note="entries that start before it"),
            _filter("billable", "integer", enum=(0, 1, 2, 12),
                    note="12: billable or billed (1 or 2)"),
            *(_filter(f"{name}_id", "integer", minimum=0, note="0: none")
              for name in ("customers", "projects", "subprojects", "services", "users",
                           "lumpsum_services")),
            _filter("text", "string", "text"),
            _no_effect("filter[texts_id]", "integer", "entry texts are not kept apart here",
                       minimum=0),
            _no_effect("filter[budget_type]", "string", "budget reports are not kept here",
                       enum=("rep_filter_budget_strict", "rep_filter_budget_strict_completed",
                             "rep_filter_budget_strict_incomplete", "rep_filter_budget_soft",
                             "rep_filter_budget_soft_completed",
                             "rep_filter_budget_soft_incomplete", "rep_filter_budget_without",
                             "rep_filter_budget_without_strict")),
            _no_effect("enhanced_list", "boolean", "no extra list fields are kept here"),
            _no_effect("calc_also_revenues_for_projects_with_hard_budget", "boolean",
                       "revenues are not reported here"))),
)


#: Where Clockodo's document gives a type's endpoints an error shape of their own, by status:
#: the entries' and the change requests' 400, and every other type's 422.
ERROR_SHAPES: dict[str, dict[int, str]] = {
    "entry": {400: SIMPLE}, "work_time_change_request": {400: SIMPLE},
    **{t.name: {422: NESTED} for t in TYPES
       if t.name not in ("entry", "work_time_change_request")}}


def error_shape(route: str | None, status: int) -> str | None:
    """The error shape Clockodo's document gives ``status`` on ``route`` (a template such
    as ``/v3/customers/{id}``), or None for the general one."""
    unversioned = re.sub(r"^/v\d+", "", route or "") + "/"  # approve is v2 and v3
    for resource in TYPES:
        if unversioned.startswith(re.sub(r"^/v\d+", "", resource.path) + "/"):
            return ERROR_SHAPES[resource.name].get(status)
    return None


@cache
def by_name() -> dict[str, ResourceType]:
    return {t.name: t for t in TYPES}


def get(name: str) -> ResourceType:
    return by_name()[name]


# --- checking values -------------------------------------------------------------------

def _fail(field: Field, message: str, type_: str = "UnexpectedValue") -> Unprocessable:
    details = None
    if type_ == "UnexpectedValue":  # Clockodo names what it expected
        details = {"expected_values": [str(v) for v in field.enum] if field.enum
                   else [field.kind]}
    return Unprocessable(f"{field.name} {message}", path=field.name, type=type_,
                         details=details)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _in_range(field: Field, value: float) -> None:
    if (field.minimum is not None and value < field.minimum) or \
            (field.maximum is not None and value > field.maximum):
        raise _fail(field, f"must be between {field.minimum} and {field.maximum}", "NotBetween")


def _datetime(field: Field, value: Any) -> str:
    if not isinstance(value, str) or len(value) > MAX_DATETIME_LENGTH:
        raise _fail(field, "must be an ISO 8601 date and time, e.g. 2026-05-10T17:02:00Z")
    try:
        return clock.format_utc(clock.parse_iso(value))
    except ValueError:
        raise _fail(field, "must be an ISO 8601 date and time with a time zone, e.g. "
                           "2026-05-10T17:02:00Z") from None


def _changes(field: Field, value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not 1 <= len(value) <= 50:
        raise _fail(field, "must be a list of 1 to 50 changes")
    result = []
    for index, change in enumerate(value):
        if not isinstance(change, dict) or set(change) != {"type", "time_since", "time_until"}:
            raise _fail(field, f"[{index}] must be {{type, time_since, time_until}}")
        if change["type"] not in (1, 2) or isinstance(change["type"], bool):
            raise _fail(field, f"[{index}].type must be 1 (add) or 2 (remove)")
        since = _datetime(field, change["time_since"])
        until = _datetime(field, change["time_until"])
        if until < since:
            raise _fail(field, f"[{index}] ends before it starts", "EndBeforeStart")
        result.append({"type": change["type"], "time_since": since, "time_until": until})
    return result


def _budget(field: Field, value: Any) -> dict[str, Any]:
    """Clockodo's budget object, every key filled in: ``amount`` (hours, or money when
    ``monetary``), ``hard``, ``notification_thresholds`` (percentages of
    ``THRESHOLDS``) and, on projects, ``from_subprojects`` and ``interval``."""
    keys = BUDGET_KEYS if field.kind == "budget" else SUBPROJECT_BUDGET_KEYS
    if not isinstance(value, dict):
        raise _fail(field, "must be a budget object {amount, monetary, hard, "
                           "notification_thresholds} or null")
    for key in value:
        if key not in keys:
            raise Unprocessable(f"unknown field {key[:60]!r} in budget; allowed: "
                                f"{', '.join(keys)}", path=f"budget.{key[:60]}",
                                type="UnknownField")
    if "amount" not in value:
        raise Unprocessable("budget.amount is required", path="budget.amount", type="Empty")
    budget: dict[str, Any] = {}
    for flag in ("monetary", "hard", "from_subprojects"):
        if flag in keys:
            budget[flag] = check_value(Field(f"budget.{flag}", "boolean"),
                                       value.get(flag, False))
    amount = check_value(Field("budget.amount", "number", nullable=True, minimum=0,
                               maximum=field.maximum), value["amount"])
    if budget.get("from_subprojects"):
        if amount:
            raise Unprocessable("budget.amount must be null or 0 for a budget from "
                                "subprojects", path="budget.amount", type="UnexpectedValue",
                                details={"expected_values": ["null", "0"]})
        amount = None
    elif not amount:  # also what rounding made of a tiny amount such as 1e-300
        raise Unprocessable("budget.amount must be greater than 0", path="budget.amount",
                            type="NotBetween")
    budget["amount"] = amount
    if "interval" in keys:
        budget["interval"] = check_value(Field("budget.interval", "integer", nullable=True,
                                               enum=BUDGET_INTERVALS), value.get("interval"))
    thresholds = value.get("notification_thresholds", [])
    if not isinstance(thresholds, list) or len(thresholds) > len(THRESHOLDS) or \
            not all(_is_int(t) and t in THRESHOLDS for t in thresholds):
        raise Unprocessable("budget.notification_thresholds must be a list of "
                            f"{', '.join(map(str, THRESHOLDS))}",
                            path="budget.notification_thresholds", type="UnexpectedValue",
                            details={"expected_values": [str(t) for t in THRESHOLDS]})
    budget["notification_thresholds"] = sorted(set(thresholds))
    return {key: budget[key] for key in keys}


def check_value(field: Field, value: Any) -> Any:
    """The value, normalized, if it fits the field; else ``Unprocessable`` naming the field."""
    if value is None:
        if field.nullable:
            return None
        raise _fail(field, "must not be null", "Empty")
    kind = field.kind
    if kind in ("string", "email"):
        if not isinstance(value, str):
            raise _fail(field, "must be a string")
        if field.max_length is not None and len(value) > field.max_length:
            raise _fail(field, f"has at most {field.max_length} characters", "NotBetween")
        if field.required and not value.strip():
            raise _fail(field, "must not be empty", "Empty")
        if kind == "email" and not _EMAIL.fullmatch(value):
            raise _fail(field, "must be an e-mail address")
        if field.name == "timezone" and not _TIMEZONE.fullmatch(value):
            raise _fail(field, "must be a time zone name such as Europe/Berlin")
    elif kind == "integer":
        if not _is_int(value):
            raise _fail(field, "must be an integer")
        if abs(value) > MAX_INTEGER:
            raise _fail(field, "is out of range", "NotBetween")
        _in_range(field, value)
    elif kind == "number":
        if not (_is_int(value) or isinstance(value, float)) or value != value \
                or value in (float("inf"), float("-inf")):
            raise _fail(field, "must be a number")
        _in_range(field, value)
        if isinstance(value, float):
            # six decimals are more than any Clockodo amount has, and keep tiny values
            # such as 1e-300 (which DynamoDB cannot store) out
            value = round(value, 6)
    elif kind == "boolean":
        if not isinstance(value, bool):
            raise _fail(field, "must be true or false")
    elif kind == "date":
        if not isinstance(value, str) or not _DATE.fullmatch(value):
            raise _fail(field, "must be a date YYYY-MM-DD")
        try:
            date.fromisoformat(value)
        except ValueError:
            raise _fail(field, "must be a valid date YYYY-MM-DD") from None
    elif kind == "datetime":
        value = _datetime(field, value)
    elif kind in ("budget", "subproject_budget"):
        value = _budget(field, value)
    elif kind == "ids":
        if not isinstance(value, list) or len(value) > MAX_LIST or \
                not all(_is_int(v) and 0 < v <= MAX_INTEGER for v in value):
            raise _fail(field, f"must be a list of at most {MAX_LIST} ids")
        value = sorted(set(value))
    elif kind == "changes":
        value = _changes(field, value)
    if field.enum is not None and value not in field.enum:
        raise _fail(field, f"must be one of {', '.join(map(str, field.enum))}")
    return value


def check_create(resource: ResourceType, body: Mapping[str, Any],
                 now: str | None = None) -> dict[str, Any]:
    """All fields of a new item: given values checked, defaults and computed fields
    filled in (``now`` is the time of the write)."""
    fields = resource.field_map
    _no_unknown(resource, body, writable=lambda f: not f.read_only)
    data: dict[str, Any] = {}
    for field in fields.values():
        if field.name in body:
            data[field.name] = check_value(field, body[field.name])
        elif field.required:
            raise _fail(field, "is required", "Empty")
        else:
            data[field.name] = list(field.default) if isinstance(field.default, tuple) \
                else field.default
    return derived(resource, None, data, now)


def derived(resource: ResourceType, old: Item | None, data: dict[str, Any],
            now: str | None = None) -> dict[str, Any]:
    """``data`` in order and with its computed fields (see ``ResourceType.derive``)."""
    _check_order(resource, data)
    if resource.derive is not None:
        data = resource.derive(old, data, now or clock.now_iso())
        _check_order(resource, data)
    return data


def check_edit(resource: ResourceType, current: Mapping[str, Any],
               body: Mapping[str, Any], now: str | None = None) -> dict[str, Any]:
    """The item after applying a PUT body (only the fields it names change)."""
    _no_unknown(resource, body, writable=lambda f: not f.read_only and not f.create_only)
    if not body:
        raise Unprocessable("send at least one field to change", path="body", type="Empty")
    fields = resource.field_map
    data = dict(current)
    for name, value in body.items():
        field = fields[name]
        if field.required and value is None:
            raise _fail(field, "must not be null", "Empty")
        data[name] = check_value(field, value)
    return derived(resource, current, data, now)


def _no_unknown(resource: ResourceType, body: Mapping[str, Any],
                writable: Callable[[Field], bool]) -> None:
    fields = resource.field_map
    for name in body:
        if name == "id":
            raise Unprocessable("id is set by the service", path="id", type="ForbiddenValue",
                                details={"allowed_values": []})
        field = fields.get(name)
        if field is None:
            allowed = ", ".join(f.name for f in resource.fields if writable(f))
            raise Unprocessable(f"unknown field {name[:60]!r}; allowed: {allowed}",
                                path=name[:60], type="UnknownField")
        if not writable(field):
            raise Unprocessable(f"{name} cannot be set here", path=name, type="ForbiddenValue",
                                details={"allowed_values": []})


def _check_order(resource: ResourceType, data: Mapping[str, Any]) -> None:
    if resource.order is None:
        return
    earlier, later = resource.order
    if data.get(earlier) is not None and data.get(later) is not None and \
            data[later] < data[earlier]:
        raise Unprocessable(f"{later} must not be before {earlier}", path=later,
                            type="EndBeforeStart")


def references(resource: ResourceType, data: Mapping[str, Any]) -> list[tuple[str, str, int]]:
    """``(field, referenced type, id)`` for every reference the item makes."""
    found = []
    for field in resource.fields:
        value = data.get(field.name)
        if field.ref is None or value is None:
            continue
        for referenced in value if isinstance(value, list) else [value]:
            found.append((field.name, field.ref, referenced))
    return found
