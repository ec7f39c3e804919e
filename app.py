"""The webhooks service's Lambda functions: the HTTP API (one function behind API
Gateway), the fan-out on the resources table's stream, the three delivery workers on
their queues (the main one, the burst lane and the slow lane), and the dead-letter
queue's handler.

Each handler reads its input, calls one function in ``chalicelib``, and returns. Every
request passes ``api.middleware`` first: it authenticates the caller and maps errors.
"""
from __future__ import annotations

from typing import Any

from chalice.app import Chalice, DynamoDBEvent, Response, SQSEvent

from chalicelib import (
    api,
    deliveries_api,
    observability,
    openapi,
    resource_actions,
    resources,
    resources_api,
    settings,
    webhooks_api,
    webui,
)
from chalicelib.delivery import dead_letters, fanout, recovery, worker
from chalicelib.inputs import documented_parameters_only, path_id
from chalicelib.resources import ResourceType

app = Chalice(app_name="clockodo-webhooks")
app.register_middleware(api.middleware, "http")
app.register_middleware(documented_parameters_only, "http")  # inside: its 400s are mapped


@app.route("/", methods=["GET"])
def webhooks_tab() -> Response:
    """The Webhooks tab (web UI); its scripts and styles are under /ui/."""
    return webui.page()


@app.route("/ui/{name}", methods=["GET"])
def webhooks_tab_file(name: str) -> Response:
    return webui.asset(name)


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
    return api.ok(webhooks_api.validate(api.caller(), path_id(webhook_id)))


@app.route("/v2/webhooks/{webhook_id}/verify", methods=["POST"])
def verify_webhook(webhook_id: str) -> Response:
    return api.ok(webhooks_api.verify(api.caller(), path_id(webhook_id),
                                      api.request().raw_body))



@app.route("/v2/webhooks/{webhook_id}/secret", methods=["GET"])
def get_signing_secret(webhook_id: str) -> Response:
    return api.ok(webhooks_api.secret(api.caller(), path_id(webhook_id)))


@app.route("/v2/webhooks/{webhook_id}/secret/rotate", methods=["POST"])
def rotate_signing_secret(webhook_id: str) -> Response:
    return api.ok(webhooks_api.rotate_secret(api.caller(), path_id(webhook_id)))


@app.route("/v2/webhooks/{webhook_id}/recover", methods=["POST"])
def recover_deliveries(webhook_id: str) -> Response:
    job, started = deliveries_api.recover(api.caller(), path_id(webhook_id),
                                          api.request().raw_body)
    return api.ok(job, status=202 if started else 200)


@app.route("/v2/webhooks/{webhook_id}/recover/{job_id}", methods=["GET"])
def get_recovery(webhook_id: str, job_id: str) -> Response:
    return api.ok(deliveries_api.recovery(api.caller(), path_id(webhook_id), job_id))


@app.route("/v2/webhooks/{webhook_id}/test", methods=["POST"])
def send_test_event(webhook_id: str) -> Response:
    return api.ok(deliveries_api.send_test(api.caller(), path_id(webhook_id)), status=202)


@app.route("/v2/webhooks/{webhook_id}/deliveries", methods=["GET"])
def list_deliveries(webhook_id: str) -> Response:
    return api.body(deliveries_api.list_page(api.caller(), path_id(webhook_id),
                                             api.request().query_params))


@app.route("/v2/webhooks/{webhook_id}/deliveries/{delivery_id}", methods=["GET"])
def get_delivery(webhook_id: str, delivery_id: str) -> Response:
    return api.ok(deliveries_api.get(api.caller(), path_id(webhook_id), delivery_id))


@app.route("/v2/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver", methods=["POST"])
def redeliver(webhook_id: str, delivery_id: str) -> Response:
    return api.ok(deliveries_api.redeliver(api.caller(), path_id(webhook_id), delivery_id),
                  status=202)


# --- event handlers ----------------------------------------------------------------------

@app.on_dynamodb_record(stream_arn=settings.get().resources_stream_arn, batch_size=100,
                        starting_position="TRIM_HORIZON")
@observability.handler
def fan_out_changes(event: DynamoDBEvent) -> dict[str, Any]:
    """Changed resources → one queued delivery per subscribed active webhook."""
    return fanout.fan_out([record.to_dict() for record in event])


@app.on_sqs_message(queue=settings.get().delivery_queue_name, batch_size=10)
@observability.handler
def deliver_notifications(event: SQSEvent) -> dict[str, Any]:
    """Queued deliveries → signed HTTP POSTs, sent concurrently, logged."""
    return worker.deliver([record.to_dict() for record in event])


@app.on_sqs_message(queue=settings.get().burst_queue_name, batch_size=50,
                    maximum_batching_window_in_seconds=1)
@observability.handler
def deliver_bursts(event: SQSEvent) -> dict[str, Any]:
    """The burst lane: a company's deliveries beyond its share of the main queue, in
    batches of up to 50 gathered for up to a second (a batch costs the same few AWS calls
    whatever its size; the main queue's batches of 10 are not held back)."""
    return worker.deliver([record.to_dict() for record in event], lane=worker.BURSTS)


@app.on_sqs_message(queue=settings.get().slow_queue_name, batch_size=10)
@observability.handler
def deliver_to_failing_endpoints(event: SQSEvent) -> dict[str, Any]:
    """The slow lane: deliveries to endpoints that are failing, apart from the rest."""
    return worker.deliver([record.to_dict() for record in event], lane=worker.SLOW)


@app.on_sqs_message(queue=settings.get().dead_letter_queue_name, batch_size=10)
@observability.handler
def record_dead_letters(event: SQSEvent) -> dict[str, Any]:
    """The dead-letter queue: undeliverable messages logged, their deliveries failed."""
    return dead_letters.mark([record.to_dict() for record in event])


@app.on_sqs_message(queue=settings.get().recovery_queue_name, batch_size=1)
@observability.handler
def run_recoveries(event: SQSEvent) -> dict[str, Any]:
    """Recovery jobs, a bounded step at a time: failed deliveries queued again."""
    return recovery.run([record.to_dict() for record in event])


# --- the Clockodo resource API -------------------------------------------------------------

def _resource_routes(resource: ResourceType) -> None:
    """Clockodo's five routes of one resource type (and complete, where it has one)."""
    item = resource.path + "/{resource_id}"

    @app.route(resource.path, methods=["GET"], name=f"list_{resource.name}")
    def list_resources() -> Response:
        return api.body(resources_api.list_page(api.caller(), resource,
                                                api.request().query_params))

    @app.route(resource.path, methods=["POST"], name=f"create_{resource.name}")
    def create_resource() -> Response:
        request = api.request()
        return api.body(resources_api.create(api.caller(), resource, request.raw_body,
                                             request.query_params))

    @app.route(item, methods=["GET"], name=f"get_{resource.name}")
    def get_resource(resource_id: str) -> Response:
        return api.body(resources_api.get(api.caller(), resource, path_id(resource_id),
                                          api.request().query_params))

    @app.route(item, methods=["PUT"], name=f"edit_{resource.name}")
    def edit_resource(resource_id: str) -> Response:
        request = api.request()
        return api.body(resources_api.edit(api.caller(), resource, path_id(resource_id),
                                           request.raw_body, request.query_params))

    @app.route(item, methods=["DELETE"], name=f"delete_{resource.name}")
    def delete_resource(resource_id: str) -> Response:
        return api.body(resources_api.delete(api.caller(), resource, path_id(resource_id),
                                             api.request().query_params))

    if resource.completable:
        @app.route(item + "/complete", methods=["PUT"], name=f"complete_{resource.name}")
        def complete_resource(resource_id: str) -> Response:
            request = api.request()
            return api.body(resources_api.complete(api.caller(), resource,
                                                   path_id(resource_id), request.raw_body,
                                                   request.query_params))


for _resource in resources.TYPES:
    _resource_routes(_resource)


# Clockodo's other routes on the 14 types: the current user, project counts, a change
# request's approval and decline.

@app.route("/v4/users/me", methods=["GET"])
def get_current_user() -> Response:
    return api.body(resource_actions.current_user(api.caller(), api.request().query_params))


@app.route("/v3/customers/countProjects", methods=["GET"])
def count_projects_of_customers() -> Response:
    return api.body(resource_actions.count_projects(api.caller(),
                                                    api.request().query_params))


@app.route("/v3/workTimes/changeRequests/{resource_id}/approve", methods=["POST"])
def approve_change_request(resource_id: str) -> Response:
    request = api.request()
    resource_actions.approve(api.caller(), path_id(resource_id), request.raw_body,
                             request.query_params)
    return api.body({"success": True})


@app.route("/v2/workTimes/changeRequests/{resource_id}/approve", methods=["POST"])
def approve_change_request_v2(resource_id: str) -> Response:
    """Clockodo's deprecated approval: the same, answered as v2 did."""
    request = api.request()
    resource_actions.approve(api.caller(), path_id(resource_id), request.raw_body,
                             request.query_params)
    return api.body({"change_request": None})


@app.route("/v2/workTimes/changeRequests/{resource_id}/decline", methods=["POST"])
def decline_change_request(resource_id: str) -> Response:
    request = api.request()
    return api.body(resource_actions.decline(api.caller(), path_id(resource_id),
                                             request.raw_body, request.query_params))
