"""The OpenAPI document is the router's: every route with its parameters and answers, each real
answer valid against its schema, and a route or query parameter nobody declared is refused."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from litemaas_controller.api import access, make_app, query
from litemaas_controller.api.contract import Param, promises

from .credentials import BEARER
from .orderkit import ORDER
from .servicekit import Service, base_settings, problem

pytestmark = pytest.mark.integration

UNDECLARED = Param.text("colour", "a parameter the probe does not declare")


@promises("a probe that reads what it does not declare", {"200": "never"}, "Status")
async def _reads_undeclared(request: web.Request) -> web.Response:
    return web.json_response({"status": query.text(request, UNDECLARED)})


async def _undocumented(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


def _resolved(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """The schema with the document's components beside it, so its $refs resolve."""
    return {**schema, "components": doc["components"]}


async def test_every_route_is_in_the_document_with_its_path_parameters(service: Service) -> None:
    doc = await service.get("/api/v1/openapi.json")
    app = service.client.server.app
    routes = {
        (route.method.lower(), route.resource.canonical)
        for route in app.router.routes()
        if route.method != "HEAD"
        and route.resource
        and not access.is_page(route.resource.canonical)
    }
    documented = {(method, path) for path, ops in doc["paths"].items() for method in ops}
    assert routes == documented
    assert ("get", "/api/v1/instances/{name}/health") in documented
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            declared = {p["name"] for p in op["parameters"] if p["in"] == "path"}
            assert declared == set(re.findall(r"\{(\w+)\}", path)), (method, path)
            for code, answer in op["responses"].items():
                assert answer["content"], (method, path, code)
                for media in answer["content"].values():
                    assert "schema" in media, (method, path, code)


async def test_real_answers_hold_to_their_schemas(service: Service) -> None:
    assert (await service.post_order(ORDER)).status == 202
    await service.finished(ORDER["id"])
    run = (await service.get(f"/api/v1/runs?order={ORDER['id']}"))["items"][0]["id"]
    doc = await service.get("/api/v1/openapi.json")
    concrete = {"{id}": ORDER["id"], "{name}": ORDER["instance"], "{type}": "model.upsert"}
    checked = 0
    for path, ops in doc["paths"].items():
        if "get" not in ops or "metrics" in path:
            continue
        url = path.replace("/runs/{id}", f"/runs/{run}")
        for placeholder, value in concrete.items():
            url = url.replace(placeholder, value)
        if url.endswith("/credentials"):
            continue  # needs a cluster: test_order_intake covers its answers
        response = await service.client.get(url, headers=BEARER)
        assert response.status == 200, (url, await response.text())
        schema = ops["get"]["responses"]["200"]["content"]["application/json"]["schema"]
        jsonschema.validate(await response.json(), _resolved(doc, schema))
        checked += 1
    assert checked >= 12
    items = (await service.get("/api/v1/orders"))["items"]
    assert items and items[0]["id"] == ORDER["id"]


async def test_a_query_parameter_the_operation_does_not_take_is_a_400(service: Service) -> None:
    body = await problem(
        await service.client.get("/api/v1/orders?instnace=demo", headers=BEARER), 400
    )
    assert "'instnace'" in body["detail"] and "instance" in body["detail"]
    # declared ones still work, and the refusal comes after the token check
    assert (await service.get("/api/v1/orders?instance=demo&limit=5"))["items"] == []
    await problem(await service.client.get("/api/v1/orders?instnace=demo"), 401)


async def test_a_handler_reading_an_undeclared_parameter_fails_loudly(tmp_path: Path) -> None:
    app = make_app(base_settings(tmp_path, "quick"))
    app.router.add_get("/api/v1/probe", _reads_undeclared)
    client = TestClient(TestServer(app, host="127.0.0.1", port=0))
    await client.start_server()
    try:
        response = await client.get("/api/v1/probe", headers=BEARER)
        assert response.status == 500
    finally:
        await client.close()


async def test_a_route_without_a_contract_stops_the_start_naming_it(tmp_path: Path) -> None:
    app = make_app(base_settings(tmp_path, "quick"))
    app.router.add_get("/api/v1/undocumented", _undocumented)
    client = TestClient(TestServer(app, host="127.0.0.1", port=0))
    with pytest.raises(RuntimeError, match="GET /api/v1/undocumented declares no contract"):
        await client.start_server()
    await client.close()
