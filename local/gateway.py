"""API Gateway's own answers, as the deployment template configures them, for the local
server.

API Gateway answers a path or method the API does not define with its
``MISSING_AUTHENTICATION_TOKEN`` response (403 by default), which the template replaces
with a 404 in the error format. ``chalice local`` answers an unknown path with the default
and an unknown method with the app's own 405; this request handler answers both as the
template makes AWS answer, read from the template itself.
"""
from __future__ import annotations

import json
from typing import Any

from chalice.app import Chalice
from chalice.local import ChaliceRequestHandler, RouteMatcher

from local.infra import TEMPLATE


def gateway_response(kind: str) -> tuple[int, dict[str, str], bytes] | None:
    """(status, headers, body) of the template's gateway response ``kind``, if it has one
    (only static templates: the local server has no VTL)."""
    template = json.loads(TEMPLATE.read_text(encoding="utf-8"))
    found: dict[str, Any] | None = template["Resources"]["RestAPI"]["Properties"][
        "GatewayResponses"].get(kind)
    if found is None or "StatusCode" not in found:
        return None
    headers = {name.removeprefix("method.response.header."): value.strip("'")
               for name, value in found.get("ResponseParameters", {})
               .get("Headers", {}).items()}
    body = found["ResponseTemplates"]["application/json"].encode("utf-8")
    return int(found["StatusCode"]), headers, body


class GatewayRequestHandler(ChaliceRequestHandler):
    """Chalice's local request handler, routing as API Gateway does: a method the route
    does not define is an unknown route there too (Chalice's app would answer 405), and an
    unknown route gets the template's gateway response."""

    def __init__(self, request: Any, client_address: Any, server: Any, app_object: Chalice,
                 config: Any) -> None:
        self._routes = app_object.routes
        self._matcher = RouteMatcher(list(app_object.routes))
        super().__init__(request, client_address, server, app_object, config)

    def _generic_handle(self) -> None:
        if self._defined(self.command, self.path):
            super()._generic_handle()
            return
        self._parse_payload()  # read the body, so that the connection can be reused
        replacement = gateway_response("MISSING_AUTHENTICATION_TOKEN")
        assert replacement is not None
        status, headers, body = replacement
        self._send_http_response(status, headers, body)

    # the base class binds its own _generic_handle to these names
    do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = do_PATCH = do_OPTIONS = _generic_handle

    def _defined(self, method: str, path: str) -> bool:
        try:
            route = self._matcher.match_route(path.partition("?")[0]).route
        except ValueError:
            return False
        return method == "OPTIONS" or method in self._routes[route]
