"""No input a user can send produces a 500: generated bodies, headers and paths."""
from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib import openapi, resources
from tests.integration.conftest import APPLICATION, Tenant, make_tenant

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
    | st.text(max_size=300),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=20), children, max_size=4),
    max_leaves=12,
)
FIELDS = st.fixed_dictionaries({}, optional={
    "event_name": st.sampled_from(["customer.created", "project.budget_notification",
                                   "nope", ""]) | JSON,
    "url": st.sampled_from(["http://127.0.0.1:9/x", "https://example.com/", "http://[::1]/",
                            "http://0/", "http://127.0.0.1:99999/"]) | st.text(max_size=60)
    | JSON,
    "token": st.text(min_size=0, max_size=300) | JSON,
    "secret": st.text(max_size=120) | JSON,
})
BODIES = FIELDS.map(json.dumps) | JSON.map(json.dumps) | st.binary(max_size=300)
PATHS = st.sampled_from(["/v2/webhooks", "/v2/webhooks/{id}", "/v2/webhooks/{id}/validate",
                         "/v2/webhooks/{id}/verify"])
# the last one is a full-width digit one, which str.isdigit() accepts
IDS = st.sampled_from(["1", "2", "0", "-1", "abc", "1.0", "%00", "9" * 30, "\uff11"])
SLOW = settings(max_examples=150, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])


ERROR_SCHEMAS = ("Errors", "NestedErrors", "SimpleErrors")


def assert_clean(response: Any) -> None:
    assert response.status_code < 500, response.body
    if response.status_code >= 400:
        body = json.loads(response.body)
        # the general error format, or one with Clockodo's shape for the endpoint beside it
        jsonschema.validate(body, {"anyOf": [{"$ref": f"#/components/schemas/{name}"}
                                             for name in ERROR_SCHEMAS],
                                   "components": openapi.document()["components"]})


@SLOW
@given(method=st.sampled_from(["POST", "PUT", "GET", "DELETE"]), path=PATHS, webhook_id=IDS,
       body=BODIES)
def test_generated_requests_never_500(client, method: str, path: str, webhook_id: str,
                                      body: Any) -> None:
    tenant = _tenant(client)
    route = path.replace("{id}", webhook_id)
    if method in ("PUT", "DELETE") and "{id}" not in path:
        method = "GET"
    if method == "POST" and path == "/v2/webhooks/{id}":
        method = "PUT"
    assert_clean(tenant.call(method, route, body))


@SLOW
@given(user=st.text(max_size=3000), key=st.text(max_size=300),
       basic=st.binary(max_size=300), app=st.text(max_size=50))
def test_generated_credentials_never_500(client, user: str, key: str, basic: bytes,
                                         app: str) -> None:
    import base64

    tenant = _tenant(client)
    headers = {"X-Clockodo-External-Application": app or APPLICATION,
               "Authorization": "Basic " + base64.b64encode(basic).decode()}
    if user.isprintable() and key.isprintable():
        headers.update({"X-ClockodoApiUser": user, "X-ClockodoApiKey": key})
    response = tenant.call("GET", "/v2/webhooks", headers=headers)
    assert response.status_code in (400, 401)
    assert_clean(response)


_tenants: dict[int, Tenant] = {}


def _tenant(client) -> Tenant:
    """One company per test (hypothesis re-runs the body; moto lives for the test)."""
    if id(client) not in _tenants:
        _tenants.clear()
        _tenants[id(client)] = make_tenant(client)
    return _tenants[id(client)]


RESOURCE_VALUES = st.sampled_from([
    "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "2026-02-30", "2026-01-01",
    "2026-01-01T10:00:00Z", -(2**63), 2**63, 1e308, -0.0, "", "x" * 2000, [1, 2], {"a": 1},
    None, True, 0, 1, 2, 15, 999999999,
]) | JSON


@SLOW
@given(type_name=st.sampled_from([t.name for t in resources.TYPES]),
       method=st.sampled_from(["POST", "PUT", "GET", "DELETE"]),
       resource_id=IDS, data=st.data())
def test_generated_resource_requests_never_500(client, type_name: str, method: str,
                                               resource_id: str, data: Any) -> None:
    resource = resources.get(type_name)
    names = [f.name for f in resource.fields] + ["id", "bogus", "completed"]
    body = data.draw(st.dictionaries(st.sampled_from(names), RESOURCE_VALUES, max_size=6))
    tenant = _tenant(client)
    path = resource.path if method == "POST" else f"{resource.path}/{resource_id}"
    assert_clean(tenant.call(method, path, json.dumps(body)))
    if resource.completable:
        assert_clean(tenant.call("PUT", f"{resource.path}/{resource_id}/complete",
                                 json.dumps(body)))


HOSTILE = ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "2026-02-30",
           -(2**63), 2**63, 1e308, "", "x" * 2000, [1, "2"], {"a": {"b": 1}}, None, True,
           "\ud800", ["\udfff"], 1e-300, {"amount": 1e-300}, {"": 1, "amount": 2},
           {"amount": 2, "notification_thresholds": [1e-300, "\ud800"]}]


@pytest.mark.parametrize("type_name", [t.name for t in resources.TYPES])
def test_every_field_of_every_type_takes_hostile_values_without_a_500(client,
                                                                      type_name: str) -> None:
    from tests.resource_samples import bodies, create_prerequisites

    tenant = make_tenant(client, name=f"Hostile-{type_name}")
    resource = resources.get(type_name)

    def create(name: str, body: dict[str, Any]) -> int:
        kind = resources.get(name)
        return int(tenant.call("POST", kind.path, json.dumps(body)).json_body[
            kind.item_key]["id"])

    ids = create_prerequisites(create)
    valid, _ = bodies(ids)[type_name]
    existing = create(type_name, valid)
    for field in resource.fields:
        for value in HOSTILE:
            body = json.dumps({**valid, field.name: value})
            assert_clean(tenant.call("POST", resource.path, body))
            assert_clean(tenant.call("PUT", f"{resource.path}/{existing}",
                                     json.dumps({field.name: value})))
