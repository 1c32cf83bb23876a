"""One middleware closes every route but the open ones: a route nobody guarded is still closed."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from litemaas_controller.api import access, make_app
from litemaas_controller.api.contract import promises

from .credentials import BEARER
from .servicekit import base_settings

pytestmark = pytest.mark.integration


@promises("a route added later", {"200": "who called"}, "Status")
async def _probe(request: web.Request) -> web.Response:
    return web.json_response({"principal": request[access.PRINCIPAL]})


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[TestClient]:
    app = make_app(base_settings(tmp_path, "quick"))
    app.router.add_get("/api/v1/added-later", _probe)  # a route with no auth code of its own
    client = TestClient(TestServer(app, host="127.0.0.1", port=0))
    await client.start_server()
    yield client
    await client.close()


def _routes(app: web.Application) -> list[tuple[str, str]]:
    found = set()
    for route in app.router.routes():
        if route.method in ("HEAD", "*") or route.resource is None:
            continue
        canonical = route.resource.canonical
        if (route.method == "GET" and canonical in access.OPEN) or (
            (route.method, canonical) in access.SELF_AUTHENTICATED
        ):
            continue
        found.add((route.method, re.sub(r"\{[^}]+\}", "x", canonical)))
    return sorted(found)


async def test_a_route_added_without_auth_code_is_closed(client: TestClient) -> None:
    refused = await client.get("/api/v1/added-later")
    assert refused.status == 401
    assert refused.headers["WWW-Authenticate"].startswith("Bearer")
    assert (await refused.json())["type"] == "urn:litemaas:problem:unauthorized"
    wrong = await client.get("/api/v1/added-later", headers={"Authorization": "Bearer nope"})
    assert wrong.status == 401
    allowed = await client.get("/api/v1/added-later", headers=BEARER)
    assert allowed.status == 200
    assert await allowed.json() == {"principal": "bearer"}


async def test_every_route_but_the_open_ones_refuses_a_caller_without_the_token(
    client: TestClient,
) -> None:
    closed = _routes(client.app)  # type: ignore[arg-type]
    assert ("GET", "/api/v1/audit") in closed
    assert ("POST", "/api/v1/runs/x/cancel") in closed
    for method, path in closed:
        response = await client.request(method, path, data=b"{}")
        assert response.status == 401, (method, path, response.status)
    for path in access.OPEN:
        concrete = path.replace("{type}", "model.upsert")
        assert (await client.get(concrete)).status == 200, path


async def test_an_unknown_path_or_method_answers_404_or_405_not_401(client: TestClient) -> None:
    assert (await client.get("/api/v1/nothing-here")).status == 404
    not_allowed = await client.delete("/api/v1/orders")
    assert not_allowed.status == 405
    assert "GET" in not_allowed.headers["Allow"]
