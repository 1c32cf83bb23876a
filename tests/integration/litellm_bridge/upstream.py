"""A minimal OpenAI-compatible model server on loopback, so a chat completion through
the proxy succeeds and produces spend without any real model. It requires a bearer key,
like a real upstream, so the test also proves the proxy decrypted and sent the stored
model credential."""

from __future__ import annotations

import asyncio
import hmac
import threading
import time
from dataclasses import dataclass, field

from aiohttp import web

MODEL_ID = "tiny-upstream-model"


@dataclass
class UpstreamState:
    api_key: str
    requests: list[dict] = field(default_factory=list)


def _authorized(request: web.Request, state: UpstreamState) -> bool:
    supplied = request.headers.get("Authorization", "")
    return hmac.compare_digest(supplied.encode(), f"Bearer {state.api_key}".encode())


def _refuse() -> web.Response:
    return web.json_response(
        {"error": {"message": "invalid api key", "type": "invalid_request_error"}}, status=401
    )


def make_app(state: UpstreamState) -> web.Application:
    async def models(request: web.Request) -> web.Response:
        if not _authorized(request, state):
            return _refuse()
        return web.json_response(
            {"object": "list", "data": [{"id": MODEL_ID, "object": "model", "owned_by": "test"}]}
        )

    async def chat(request: web.Request) -> web.Response:
        if not _authorized(request, state):
            return _refuse()
        body = await request.json()
        state.requests.append(body)
        return web.json_response(
            {
                "id": f"chatcmpl-{len(state.requests)}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body.get("model", MODEL_ID),
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": "pong"},
                        "finish_reason": "stop",
                    }
                ],
                # Non-zero usage is what makes the proxy record spend.
                "usage": {"prompt_tokens": 1000, "completion_tokens": 1000, "total_tokens": 2000},
            }
        )

    app = web.Application()
    app.router.add_get("/v1/models", models)
    app.router.add_post("/v1/chat/completions", chat)
    return app


class Upstream:
    """Runs the app on its own event loop in a thread, on a port the OS picks."""

    def __init__(self, api_key: str) -> None:
        self.state = UpstreamState(api_key=api_key)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> Upstream:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(timeout=10)
        return self

    async def _start(self) -> None:
        self._runner = web.AppRunner(make_app(self.state))
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    def stop(self) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()
