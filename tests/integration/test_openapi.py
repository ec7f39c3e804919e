"""The OpenAPI document is valid, served, and names exactly the routes that exist."""
from __future__ import annotations

import re

from openapi_spec_validator import validate

from chalicelib import catalogue, openapi
from tests.integration.conftest import Tenant
from tests.openapi_check import assert_conforms
from tests.receivers import Receiver


def normalized(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "{}", path)


def test_the_document_is_valid_openapi_3_1() -> None:
    document = openapi.document()
    assert document["openapi"].startswith("3.1")
    validate(document)


def test_the_document_names_exactly_the_routes_of_the_app() -> None:
    import app

    routes = {(normalized(path), method.lower())
              for path, methods in app.app.routes.items() for method in methods}
    documented = {(normalized(path), method)
                  for path, item in openapi.document()["paths"].items()
                  for method in item if method in {"get", "put", "post", "delete", "patch"}}
    assert routes == documented


def test_the_event_enum_is_the_catalogue() -> None:
    enum = openapi.document()["components"]["schemas"]["EventName"]["enum"]
    assert set(enum) == catalogue.event_names()


def test_served_document_is_the_file(tenant: Tenant) -> None:
    assert tenant.call("GET", "/v2/openapi.json").json_body == openapi.document()


def test_responses_match_their_documented_schemas(tenant: Tenant, receiver: Receiver) -> None:
    def check(method: str, path: str, body=None) -> dict:
        response = tenant.call(method, path, body)
        assert_conforms(method, path, response.status_code, response.json_body)
        return response.json_body

    created = check("POST", "/v2/webhooks", {"event_name": "team.created",
                                             "url": receiver.url, "token": "t"})
    path = f"/v2/webhooks/{created['data']['id']}"
    check("GET", "/v2/webhooks/events")
    check("GET", "/v2/webhooks")
    check("GET", path)
    check("PUT", path, {"token": "u"})
    check("POST", f"{path}/validate")
    check("POST", f"{path}/verify", {"secret": "wrong"})
    check("POST", f"{path}/verify", {"secret": receiver.wait_for(1)[0].json()["secret"]})
    check("POST", f"{path}/validate")
    check("POST", "/v2/webhooks", {"event_name": "nope"})
    check("DELETE", path)
    check("GET", path)


def test_the_document_is_no_looser_than_the_api_on_tokens_and_ids(tenant: Tenant,
                                                                    receiver: Receiver) -> None:
    import jsonschema

    schemas = openapi.document()["components"]["schemas"]
    for name in ("WebhookCreate", "WebhookEdit"):
        token = schemas[name]["properties"]["token"]
        for refused in ("a\tb", "\u00a0", "x\u200by"):
            assert not jsonschema.Draft202012Validator(token).is_valid(refused)
            answer = tenant.call("POST", "/v2/webhooks", {
                "event_name": "team.created", "url": receiver.url, "token": refused})
            assert answer.status_code == 422
    for path, item in openapi.document()["paths"].items():
        for param in item.get("parameters", []):
            if param["in"] == "path" and param["name"] == "id":
                assert param["schema"]["maximum"] == 2**53 - 1, path
