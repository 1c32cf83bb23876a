"""A small OpenAI-compatible model server standing in for vLLM / OpenShift AI model servers.

It serves what LiteLLM and the collection's modules call on an upstream:

- ``GET /v1/models`` (the model id, discovered by ``litellm_model`` when no upstream model is given)
- ``POST /v1/chat/completions``, ``POST /v1/completions``, ``POST /v1/embeddings``

Like a real model server behind an API key it answers 401 without ``Authorization: Bearer <key>``,
and it answers 404 ``model_not_found`` for a model id it does not serve (vLLM does both). Every
request is recorded (path, the bearer key presented, the JSON body), so a test can prove that a
completion through the proxy arrived carrying the upstream's own key. Usage is non-zero, so the
proxy records spend.

Two ways to run it:

- in a test: ``FakeUpstream(api_key=...).start()`` ... ``.stop()`` (own event loop in a thread,
  port chosen by the OS), or the context manager form;
- as a process: ``FAKE_UPSTREAM_API_KEY=sk-... python -m fakes.upstream --port 8001`` (the key
  comes from the environment, never the command line, so it is not visible in ``ps``).
"""

from __future__ import annotations

import argparse
import asyncio
import hmac
import os
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

DEFAULT_MODEL_ID = "fake-llama-3-8b"


@dataclass
class Received:
    """One request as the upstream saw it."""

    path: str
    api_key: str | None
    body: dict[str, Any]


@dataclass
class UpstreamState:
    api_key: str
    model_id: str = DEFAULT_MODEL_ID
    received: list[Received] = field(default_factory=list)
    refused: int = 0

    def calls(self, path: str) -> list[Received]:
        return [r for r in self.received if r.path == path]


STATE: web.AppKey[UpstreamState] = web.AppKey("state", UpstreamState)


def _bearer(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    return token if scheme.lower() == "bearer" and token else None


def _error(status: int, message: str, kind: str, code: str) -> web.Response:
    return web.json_response(
        {"error": {"message": message, "type": kind, "param": None, "code": code}}, status=status
    )


@web.middleware
async def require_key(request: web.Request, handler: Any) -> web.StreamResponse:
    state = request.app[STATE]
    presented = _bearer(request)
    if presented is None or not hmac.compare_digest(presented.encode(), state.api_key.encode()):
        state.refused += 1
        return _error(401, "invalid api key", "invalid_request_error", "invalid_api_key")
    return await handler(request)


async def _body(request: web.Request) -> dict[str, Any]:
    state = request.app[STATE]
    try:
        body = await request.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(text='{"error": {"message": "a JSON object is required"}}')
    state.received.append(Received(request.path, _bearer(request), body))
    if body.get("model") != state.model_id:
        raise web.HTTPNotFound(
            text=(
                '{"error": {"message": "The model does not exist.", '
                '"type": "NotFoundError", "param": null, "code": "model_not_found"}}'
            ),
            content_type="application/json",
        )
    return body


_USAGE = {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}


async def models(request: web.Request) -> web.Response:
    state = request.app[STATE]
    created = int(time.time())
    return web.json_response(
        {
            "object": "list",
            "data": [
                {"id": state.model_id, "object": "model", "created": created, "owned_by": "fake"}
            ],
        }
    )


async def chat_completions(request: web.Request) -> web.Response:
    body = await _body(request)
    return web.json_response(
        {
            "id": f"chatcmpl-{len(request.app[STATE].received)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body["model"],
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": "pong"},
                    "finish_reason": "stop",
                }
            ],
            "usage": _USAGE,
        }
    )


async def completions(request: web.Request) -> web.Response:
    body = await _body(request)
    return web.json_response(
        {
            "id": f"cmpl-{len(request.app[STATE].received)}",
            "object": "text_completion",
            "created": int(time.time()),
            "model": body["model"],
            "choices": [{"index": 0, "text": "pong", "finish_reason": "stop", "logprobs": None}],
            "usage": _USAGE,
        }
    )


async def embeddings(request: web.Request) -> web.Response:
    body = await _body(request)
    inputs = body.get("input")
    count = len(inputs) if isinstance(inputs, list) else 1
    return web.json_response(
        {
            "object": "list",
            "model": body["model"],
            "data": [
                {"object": "embedding", "index": i, "embedding": [0.1, 0.2, 0.3]}
                for i in range(count)
            ],
            "usage": {"prompt_tokens": 10, "total_tokens": 10},
        }
    )


def make_app(state: UpstreamState) -> web.Application:
    app = web.Application(middlewares=[require_key], client_max_size=1024**2)
    app[STATE] = state
    app.router.add_get("/v1/models", models)
    app.router.add_post("/v1/chat/completions", chat_completions)
    app.router.add_post("/v1/completions", completions)
    app.router.add_post("/v1/embeddings", embeddings)
    return app


class FakeUpstream:
    """The app on its own event loop in a thread, on a loopback port the OS picks."""

    def __init__(self, api_key: str, model_id: str = DEFAULT_MODEL_ID) -> None:
        self.state = UpstreamState(api_key=api_key, model_id=model_id)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def base_url(self) -> str:
        """What LiteLLM's ``api_base`` for an OpenAI-compatible upstream looks like."""
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> FakeUpstream:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(timeout=10)
        return self

    async def _start(self) -> None:
        self._runner = web.AppRunner(make_app(self.state))
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]

    def stop(self) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(timeout=10)
            self._runner = None
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
        self._loop.close()

    def __enter__(self) -> FakeUpstream:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--model-id", default=DEFAULT_MODEL_ID)
    args = parser.parse_args(argv)
    api_key = os.environ.get("FAKE_UPSTREAM_API_KEY")
    if not api_key:
        parser.error("set FAKE_UPSTREAM_API_KEY to the bearer key the upstream must require")
    state = UpstreamState(api_key=api_key, model_id=args.model_id)
    web.run_app(make_app(state), host=args.host, port=args.port, print=None)


if __name__ == "__main__":
    main()
