"""The webhooks service's Lambda functions: HTTP routes now, event handlers as they come.

Each handler reads its input, calls one function in ``chalicelib``, and returns. Every
request passes ``api.middleware`` first: it authenticates the caller and maps errors.
"""
from __future__ import annotations

from chalice.app import Chalice, Response

from chalicelib import api, openapi, settings, validation, webhooks_api
from chalicelib.inputs import path_id

app = Chalice(app_name="clockodo-webhooks")
app.register_middleware(api.middleware, "http")


@app.route("/v2/openapi.json", methods=["GET"])
def openapi_document() -> Response:
    return api.body(openapi.document())


@app.route("/v2/webhooks/events", methods=["GET"])
def list_events() -> Response:
    return api.ok(webhooks_api.events(api.caller()))


@app.route("/v2/webhooks", methods=["GET"])
def list_webhooks() -> Response:
    return api.body(webhooks_api.list_page(api.caller(), api.request().query_params))


@app.route("/v2/webhooks", methods=["POST"])
def create_webhook() -> Response:
    return api.ok(webhooks_api.create(api.caller(), api.request().raw_body), status=201)


@app.route("/v2/webhooks/{webhook_id}", methods=["GET"])
def get_webhook(webhook_id: str) -> Response:
    return api.ok(webhooks_api.get(api.caller(), path_id(webhook_id)))


@app.route("/v2/webhooks/{webhook_id}", methods=["PUT"])
def edit_webhook(webhook_id: str) -> Response:
    return api.ok(webhooks_api.edit(api.caller(), path_id(webhook_id), api.request().raw_body))


@app.route("/v2/webhooks/{webhook_id}", methods=["DELETE"])
def delete_webhook(webhook_id: str) -> Response:
    webhooks_api.delete(api.caller(), path_id(webhook_id))
    return api.body({"success": True})


@app.route("/v2/webhooks/{webhook_id}/validate", methods=["POST"])
def validate_webhook(webhook_id: str) -> Response:
    webhook = webhooks_api.find(api.caller(), path_id(webhook_id))
    webhook, outcome = validation.request(webhook, settings.get())
    return api.ok({
        "webhook": webhook.to_json(),
        "validation_request": {
            "status_code": outcome.status_code,
            "accepted": outcome.succeeded,
            "duration_ms": outcome.duration_ms,
        },
    })


@app.route("/v2/webhooks/{webhook_id}/verify", methods=["POST"])
def verify_webhook(webhook_id: str) -> Response:
    webhook = webhooks_api.find(api.caller(), path_id(webhook_id))
    secret = webhooks_api.secret_from(api.request().raw_body)
    return api.ok(validation.verify(webhook, secret, settings.get()).to_json())

