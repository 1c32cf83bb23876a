"""Errors map to HTTP answers in one place; `serve --help` documents every setting."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aiohttp import web

from litemaas_controller import errors
from litemaas_controller.api.problems import PROBLEM, middleware, problem, status_of
from litemaas_controller.cli import _parser

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (errors.MalformedError("x"), 400),
        (errors.AuthError("x"), 401),
        (errors.NotFoundError("x"), 404),
        (errors.ConflictError("x"), 409),
        (errors.TooLargeError("x"), 413),
        (errors.UnsupportedMediaError("x"), 415),
        (errors.InvalidError("x"), 422),
        (errors.ClusterError("x"), 502),
        (errors.ClusterRefusedError("x"), 502),
        (errors.UnavailableError("x"), 503),
        (errors.ConfigError("x"), 500),
    ],
)
def test_every_error_kind_has_its_status(error: errors.ControllerError, status: int) -> None:
    assert status_of(error) == status


def test_a_problem_document_is_rfc7807() -> None:
    response = problem(422, "fix the vars", "invalid", allowed=["a"])
    assert response.content_type == PROBLEM
    assert response.text is not None
    body = json.loads(response.text)
    assert body == {
        "type": "urn:litemaas:problem:invalid",
        "title": "Unprocessable order",
        "status": 422,
        "detail": "fix the vars",
        "allowed": ["a"],
    }


def test_serve_help_lists_every_setting(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        _parser().parse_args(["serve", "--help"])
    out = capsys.readouterr().out
    for name in (
        "LITEMAAS_LISTEN",
        "LITEMAAS_WEBHOOK_SECRET",
        "LITEMAAS_API_TOKEN",
        "LITEMAAS_STATE_DIR",
        "KUBECONFIG",
        "LITEMAAS_MAX_CONCURRENT_RUNS",
        "LITEMAAS_RUN_TIMEOUT",
        "LITEMAAS_DRAIN_GRACE",
    ):
        assert name in out
    assert "--webhook-secret" not in out  # secrets are never flags


async def test_a_405_keeps_its_allow_header(aiohttp_client: Any) -> None:
    async def hello(_request: web.Request) -> web.Response:
        return web.Response(text="hi")

    app = web.Application(middlewares=[middleware(1024)])
    app.router.add_get("/only-get", hello)
    client = await aiohttp_client(app)
    response = await client.post("/only-get")
    assert response.status == 405
    assert response.content_type == PROBLEM
    assert set(response.headers["Allow"].split(",")) == {"GET", "HEAD"}
