"""The OpenAPI 3.1 document (``/api/v1/openapi.json``), made from the router and the contract
each handler declares (``api/contract.py``), and the published order schema.

Every route is in the document but the web page's (``/`` and ``/ui/…``): a route without a
contract stops the document, and so the service's start, with the route's name.
"""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web

from litemaas_controller import __version__
from litemaas_controller.api import access, answers, keys
from litemaas_controller.api.contract import Contract, of, promises

routes = web.RouteTableDef()

#: what every operation may answer besides its own codes
COMMON = {"400": "a query parameter it does not take, or a bad value"}
SECURED = {"401": "no token, or a wrong one"}
_PARAMETER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


def _answer(code: str, text: str, contract: Contract) -> dict[str, Any]:
    if not code.startswith("2"):
        ref = {"schema": {"$ref": "#/components/schemas/Problem"}}
        return {"description": text, "content": {"application/problem+json": ref}}
    content = {contract.media: {"schema": {"$ref": f"#/components/schemas/{contract.returns}"}}}
    if contract.streams:
        content["text/event-stream"] = {"schema": {"$ref": "#/components/schemas/SseEvent"}}
    return {"description": text, "content": content}


def _path_schema(name: str, contract: Contract) -> dict[str, Any]:
    declared = [p for p in contract.path if p.name == name]
    return dict(declared[0].schema) if declared else {"type": "string", "minLength": 1}


def _operation(method: str, path: str, contract: Contract) -> dict[str, Any]:
    opened = method == "GET" and path in access.OPEN
    self_authenticated = (method, path) in access.SELF_AUTHENTICATED
    codes = {**COMMON, **({} if opened else SECURED), **contract.answers}
    op: dict[str, Any] = {
        "operationId": f"{method.lower()}{re.sub(r'[^A-Za-z0-9]+', '_', path)}".rstrip("_"),
        "summary": contract.summary,
        "parameters": [
            {"name": name, "in": "path", "required": True, "schema": _path_schema(name, contract)}
            for name in _PARAMETER.findall(path)
        ]
        + [
            {"name": p.name, "in": "query", "schema": dict(p.schema), "description": p.description}
            for p in contract.query
        ],
        "responses": {code: _answer(code, text, contract) for code, text in sorted(codes.items())},
        "security": [] if opened else [{"bearer": []}],
    }
    if self_authenticated:
        op["security"] = [{"bearer": []}, {"hmac": []}]
    if contract.body:
        schema = {"schema": {"$ref": f"#/components/schemas/{contract.body}"}}
        op["requestBody"] = {"required": True, "content": {"application/json": schema}}
    return op


def paths(router: web.UrlDispatcher) -> dict[str, Any]:
    """Every route's operation, by path and method."""
    found: dict[str, Any] = {}
    for route in router.routes():
        path = route.resource.canonical if route.resource else ""
        if route.method == "HEAD" or access.is_page(path):
            continue
        contract = of(route.handler)
        if contract is None:
            raise RuntimeError(f"{route.method} {path} declares no contract (api/contract.py)")
        found.setdefault(path, {})[route.method.lower()] = _operation(route.method, path, contract)
    return found


def document(router: web.UrlDispatcher, order_schema: dict[str, Any]) -> dict[str, Any]:
    schema = {k: v for k, v in order_schema.items() if k not in ("$schema", "$id")}
    hmac_doc = (
        "sha256=<hex HMAC-SHA256(secret, X-Litemaas-Timestamp + '.' + raw body)>; "
        "the timestamp (unix seconds) must be within the signature window (5 minutes)"
    )
    return {
        "openapi": "3.1.0",
        "info": {"title": "litemaas-controller", "version": __version__},
        "paths": paths(router),
        "components": {
            "schemas": answers.components(schema),
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


async def check(app: web.Application) -> None:
    """At start: every route has its contract (else the start fails, naming the route)."""
    paths(app.router)


@routes.get("/api/v1/openapi.json")
@promises("This document", {"200": "the OpenAPI 3.1 document"}, "JsonSchema")
async def openapi(request: web.Request) -> web.Response:
    return web.json_response(document(request.app.router, request.app[keys.INTAKE].schema))


@routes.get("/api/v1/schemas/order.json")
@promises("The order's JSON schema", {"200": "the schema"}, "JsonSchema")
async def order_schema(request: web.Request) -> web.Response:
    return web.json_response(request.app[keys.INTAKE].schema)
