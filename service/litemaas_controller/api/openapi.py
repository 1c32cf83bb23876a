"""The OpenAPI 3.1 document (``/api/v1/openapi.json``) and the published order schema."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from litemaas_controller import __version__
from litemaas_controller.api import access, keys
from litemaas_controller.api.stream import MAX_SEQ

routes = web.RouteTableDef()

_FOLLOW: list[dict[str, Any]] = [
    {"name": "follow", "in": "query", "schema": {"type": "string", "enum": ["0", "1"]}},
    {
        "name": "after",
        "in": "query",
        "schema": {"type": "integer", "minimum": 0, "maximum": MAX_SEQ},
    },
]

_PAGED: list[dict[str, Any]] = [
    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000}},
    {"name": "cursor", "in": "query", "schema": {"type": "string"},
     "description": "the `next` of the previous page"},
]  # fmt: skip
#: the lists: each answers {items, next?}, ``next`` set when more may follow
_LISTS = frozenset({
    "/api/v1/orders", "/api/v1/runs", "/api/v1/instances", "/api/v1/audit",
    "/api/v1/orders/{id}/events", "/api/v1/runs/{id}/events", "/api/v1/instances/{name}/health",
    "/api/v1/dead-letters",
})  # fmt: skip

#: (method, path, summary, answers); every /api/v1 path needs the bearer token except order intake
_ENDPOINTS: list[tuple[str, str, str, dict[str, str]]] = [
    ("post", "/api/v1/orders", "Submit an order (HMAC-signed or bearer)", {
        "200": "duplicate: the current record", "202": "accepted: the new record",
        "400": "not JSON", "401": "bad or stale signature, or no token",
        "409": "same id with another body, or an instance rule broken",
        "413": "body too large", "415": "not application/json",
        "422": "schema or vars refused (the problem lists the allowed vars)"}),
    ("get", "/api/v1/orders", "List orders (newest first; ?instance=, ?status=)",
     {"200": "orders"}),
    ("get", "/api/v1/orders/{id}", "An order with its runs and the deploy's results",
     {"200": "order", "404": "no such order"}),
    ("get", "/api/v1/orders/{id}/events", "Events of every run of the order",
     {"200": "events", "404": "no such order"}),
    ("get", "/api/v1/runs", "List runs (newest first)", {"200": "runs"}),
    ("get", "/api/v1/runs/{id}", "A run", {"200": "run", "404": "no such run"}),
    ("get", "/api/v1/runs/{id}/events", "Events of a run", {"200": "events", "404": "no run"}),
    ("post", "/api/v1/runs/{id}/cancel", "Cancel a run: its whole process tree is ended",
     {"200": "the cancelled run", "404": "no such run", "409": "the run already ended"}),
    ("get", "/api/v1/instances", "List instances", {"200": "instances"}),
    ("get", "/api/v1/audit", "The audit trail, oldest first (?subject= an order, run or instance)",
     {"200": "entries"}),
    ("get", "/api/v1/instances/{name}", "An instance", {"200": "instance", "404": "no such"}),
    ("get", "/api/v1/instances/{name}/credentials",
     "Admin credentials, read from the instance's Secret when asked (never stored)",
     {"200": "credentials", "404": "no instance or Secret", "409": "not deployed yet"}),
    ("post", "/api/v1/instances/{name}/repair",
     "Ask for a repair (docs/repair-policy.md): the budget starts again",
     {"200": "a repair already queued or running", "202": "the new repair order",
      "404": "no such instance", "409": "destroyed, not deployed, or another order runs",
      "422": "not an instance name"}),
    ("get", "/api/v1/instances/{name}/health",
     "Health transitions, oldest first (?after=, ?limit=; ?follow=1: server-sent events)",
     {"200": "transitions", "400": "bad after or limit", "404": "no such instance"}),
    ("get", "/api/v1/dead-letters",
     "The message intake's dead letters, newest first (the stream entry, message id, kind)",
     {"200": "dead letters"}),
]  # fmt: skip


def _answer(code: str, text: str) -> dict[str, Any]:
    if code >= "400":
        ref = {"schema": {"$ref": "#/components/schemas/Problem"}}
        return {"description": text, "content": {"application/problem+json": ref}}
    return {"description": text, "content": {"application/json": {}}}


def _paths() -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for method, path, summary, answers in _ENDPOINTS:
        op: dict[str, Any] = {
            "summary": summary,
            "responses": {code: _answer(code, text) for code, text in answers.items()},
            "security": [{"bearer": []}],
        }
        if method == "get" and path in _LISTS:
            op["parameters"] = list(_PAGED)
        if path.endswith("/events"):
            op["parameters"] = op.get("parameters", []) + _FOLLOW
            op["responses"]["200"]["content"]["text/event-stream"] = {}
        if method == "post" and path == "/api/v1/orders":
            op["security"] = [{"hmac": []}, {"bearer": []}]
            schema = {"schema": {"$ref": "#/components/schemas/Order"}}
            op["requestBody"] = {"required": True, "content": {"application/json": schema}}
        paths.setdefault(path, {})[method] = op
    for path, summary in access.OPEN.items():
        paths[path] = {"get": {"summary": summary, "responses": {"200": {"description": "ok"}}}}
    return paths


def document(order_schema: dict[str, Any]) -> dict[str, Any]:
    schema = {k: v for k, v in order_schema.items() if k not in ("$schema", "$id")}
    problem = {
        "type": "object",
        "properties": {k: {"type": "string"} for k in ("type", "title", "detail")}
        | {"status": {"type": "integer"}},
    }
    hmac_doc = (
        "sha256=<hex HMAC-SHA256(secret, X-Litemaas-Timestamp + '.' + raw body)>; "
        "the timestamp (unix seconds) must be within the signature window (5 minutes)"
    )
    return {
        "openapi": "3.1.0",
        "info": {"title": "litemaas-controller", "version": __version__},
        "paths": _paths(),
        "components": {
            "schemas": {"Order": schema, "Problem": problem},
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "hmac": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "X-Litemaas-Signature",
                    "description": hmac_doc,
                },
            },
        },
    }


@routes.get("/api/v1/openapi.json")
async def openapi(request: web.Request) -> web.Response:
    return web.json_response(document(request.app[keys.INTAKE].schema))


@routes.get("/api/v1/schemas/order.json")
async def order_schema(request: web.Request) -> web.Response:
    return web.json_response(request.app[keys.INTAKE].schema)
