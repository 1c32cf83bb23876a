"""A small OpenAI-compatible model server standing in for vLLM / OpenShift AI model servers.

It serves what LiteLLM and the collection's modules call on an upstream:

- ``GET /v1/models`` (the model id, discovered by ``litellm_model`` when no upstream model is given)
- ``POST /v1/chat/completions``, ``POST /v1/completions``, ``POST /v1/embeddings``

Like a real model server behind an API key it answers 401 without ``Authorization: Bearer <key>``,
and it answers 404 ``model_not_found`` for a model id it does not serve (vLLM does both). Every
completion request is recorded (path, the bearer key presented, the JSON body), so a test can
prove that a completion through the proxy arrived carrying the upstream's own key; and every
request of any kind, refused ones included, is logged in ``presented`` (method, path, the bearer
key), so a test can prove that a key was never sent here. Usage is non-zero, so the proxy records
spend.

The standard library only, so the very same file also runs inside a sandbox pod (image
``python:*``, the machine's bare ``/usr/bin/python3``) where the instance's LiteLLM reaches it by
its Service name. Three ways to run it:

- in a test: ``FakeUpstream(api_key=...).start()`` ... ``.stop()`` (a thread, port chosen by the
  OS), or the context manager form; ``.state`` holds what was received;
- as a process: ``FAKE_UPSTREAM_API_KEY=sk-... python3 upstream.py --port 8000`` (the key comes
  from the environment, never the command line, so it is not visible in ``ps``);
- from outside its process: ``GET /_fake/received`` (with the same bearer key) lists what was
  received (``items``) and every key presented (``presented``), with ``api_key_sha256`` in place
  of the key, so a test can compare keys without ever printing one.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

DEFAULT_MODEL_ID = "fake-llama-3-8b"
RECEIVED_PATH = "/_fake/received"


def sha256(text: str | None) -> str | None:
    return hashlib.sha256(text.encode()).hexdigest() if text is not None else None


@dataclass
class Received:
    """One request as the upstream saw it."""

    path: str
    api_key: str | None
    body: dict[str, Any]

    def shown(self) -> dict[str, Any]:
        """The record as ``/_fake/received`` lists it: the key only as its SHA-256."""
        return {"path": self.path, "api_key_sha256": sha256(self.api_key), "body": self.body}


@dataclass
class Presented:
    """One request of any kind, accepted or refused: who presented which key."""

    method: str
    path: str
    api_key: str | None

    def shown(self) -> dict[str, Any]:
        return {"method": self.method, "path": self.path, "api_key_sha256": sha256(self.api_key)}


@dataclass
class UpstreamState:
    api_key: str
    model_id: str = DEFAULT_MODEL_ID
    #: usage reported per completion; non-zero so the proxy records spend
    usage: dict[str, int] = field(
        default_factory=lambda: {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}
    )
    received: list[Received] = field(default_factory=list)
    presented: list[Presented] = field(default_factory=list)
    refused: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def calls(self, path: str) -> list[Received]:
        with self.lock:
            return [r for r in self.received if r.path == path]

    def saw(self, method: str, path: str, api_key: str | None) -> None:
        with self.lock:
            self.presented.append(Presented(method, path, api_key))

    def keys_presented(self) -> set[str | None]:
        with self.lock:
            return {p.api_key for p in self.presented}

    def accepts(self, presented: str | None) -> bool:
        ok = presented is not None and hmac.compare_digest(
            presented.encode(), self.api_key.encode()
        )
        if not ok:
            with self.lock:
                self.refused += 1
        return ok

    def record(self, path: str, api_key: str | None, body: dict[str, Any]) -> int:
        with self.lock:
            self.received.append(Received(path, api_key, body))
            return len(self.received)


def _error(message: str, kind: str, code: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


def _completion(path: str, model: str, serial: int, body: dict[str, Any], usage: Any) -> Any:
    now = int(time.time())
    if path == "/v1/chat/completions":
        message = {"role": "assistant", "content": "pong"}
        return {
            "id": f"chatcmpl-{serial}",
            "object": "chat.completion",
            "created": now,
            "model": model,
            "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
            "usage": dict(usage),
        }
    if path == "/v1/completions":
        return {
            "id": f"cmpl-{serial}",
            "object": "text_completion",
            "created": now,
            "model": model,
            "choices": [{"index": 0, "text": "pong", "finish_reason": "stop", "logprobs": None}],
            "usage": dict(usage),
        }
    inputs = body.get("input")
    count = len(inputs) if isinstance(inputs, list) else 1
    return {
        "object": "list",
        "model": model,
        "data": [
            {"object": "embedding", "index": i, "embedding": [0.1, 0.2, 0.3]} for i in range(count)
        ],
        "usage": {"prompt_tokens": usage["prompt_tokens"], "total_tokens": usage["prompt_tokens"]},
    }


POSTS = ("/v1/chat/completions", "/v1/completions", "/v1/embeddings")
MAX_BODY = 1024**2


class Handler(BaseHTTPRequestHandler):
    server: Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        return  # quiet: a test reads what was received, not an access log

    def _send(self, status: int, payload: Any) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _bearer(self) -> str | None:
        scheme, _, token = (self.headers.get("Authorization") or "").partition(" ")
        return token if scheme.lower() == "bearer" and token else None

    def _authorized(self) -> str | None:
        presented = self._bearer()
        path = self.path.split("?", 1)[0]
        if path != RECEIVED_PATH:
            self.server.state.saw(self.command, path, presented)
        if not self.server.state.accepts(presented):
            self._send(401, _error("invalid api key", "invalid_request_error", "invalid_api_key"))
            return None
        return presented

    def do_GET(self) -> None:
        if self._authorized() is None:
            return
        state = self.server.state
        path = self.path.split("?", 1)[0]
        if path == "/v1/models":
            model = {"id": state.model_id, "object": "model", "created": int(time.time())}
            self._send(200, {"object": "list", "data": [{**model, "owned_by": "fake"}]})
        elif path == RECEIVED_PATH:
            with state.lock:
                items = [r.shown() for r in state.received]
                presented = [p.shown() for p in state.presented]
            self._send(200, {"items": items, "presented": presented, "refused": state.refused})
        else:
            self._send(404, _error("not found", "invalid_request_error", "not_found"))

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if 0 < length <= MAX_BODY else b""
        presented = self._authorized()
        if presented is None:
            return
        path = self.path.split("?", 1)[0]
        if path not in POSTS:
            self._send(404, _error("not found", "invalid_request_error", "not_found"))
            return
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        if not isinstance(body, dict):
            self._send(400, _error("a JSON object is required", "invalid_request_error", "body"))
            return
        state = self.server.state
        serial = state.record(path, presented, body)
        if body.get("model") != state.model_id:
            self._send(404, _error("The model does not exist.", "NotFoundError", "model_not_found"))
            return
        self._send(200, _completion(path, state.model_id, serial, body, state.usage))


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], state: UpstreamState) -> None:
        super().__init__(address, Handler)
        self.state = state


class FakeUpstream:
    """The server in a thread, on a port the OS picks (loopback unless told otherwise)."""

    def __init__(
        self, api_key: str, model_id: str = DEFAULT_MODEL_ID, host: str = "127.0.0.1"
    ) -> None:
        self.state = UpstreamState(api_key=api_key, model_id=model_id)
        self._server = Server((host, 0), self.state)
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        """What LiteLLM's ``api_base`` for an OpenAI-compatible upstream looks like."""
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> FakeUpstream:
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join(timeout=10)
        self._server.server_close()

    def __enter__(self) -> FakeUpstream:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--model-id", default=DEFAULT_MODEL_ID)
    args = parser.parse_args(argv)
    api_key = os.environ.get("FAKE_UPSTREAM_API_KEY")
    if not api_key:
        parser.error("set FAKE_UPSTREAM_API_KEY to the bearer key the upstream must require")
    server = Server((args.host, args.port), UpstreamState(api_key=api_key, model_id=args.model_id))
    print(f"fake upstream serving {args.model_id} on {args.host}:{args.port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
