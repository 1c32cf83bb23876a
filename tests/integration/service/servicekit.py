"""The controller service for the service tests: the in-process ``Service`` (port 0) and its
settings, the evidence the fixture projects leave, the ledger's rows, and problem+json answers.
The fixtures that make them are in ``conftest.py``."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient

from litemaas_controller.config import Settings, validate_settings
from litemaas_controller.intake.auth import signed_headers
from waiting import wait_for, wait_for_async

from .credentials import BEARER, SECRET, TOKEN

PROJECTS = Path(__file__).parent / "projects"
TERMINAL = {"succeeded", "failed", "cancelled", "superseded"}


def ledger_dump(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, read through a second connection (WAL lets it read)."""
    db = sqlite3.connect(path)
    try:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return {t: db.execute(f"SELECT * FROM {t}").fetchall() for t in tables}  # noqa: S608
    finally:
        db.close()


class Evidence:
    """What the `hold` fixture playbook writes: `<time> start|end|conflict <pid> <instance>`."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def lines(self) -> list[list[str]]:
        if not self.path.exists():
            return []
        return [line.split() for line in self.path.read_text().splitlines() if line.strip()]

    def count(self, kind: str, instance: str | None = None) -> int:
        return sum(1 for f in self.lines() if f[1] == kind and (instance in (None, f[3])))

    def pids(self, kind: str) -> list[int]:
        return [int(f[2]) for f in self.lines() if f[1] == kind]

    def release(self) -> None:
        self.path.with_name(self.path.name + ".release").touch()

    async def started(self, n: int = 1, instance: str | None = None) -> None:
        await wait_for(lambda: self.count("start", instance) >= n, what=f"{n} start(s)")


@dataclass
class Service:
    client: TestClient
    settings: Settings
    evidence: Evidence

    async def post_order(
        self,
        order: dict[str, Any] | bytes,
        *,
        auth: str = "hmac",
        headers: dict[str, str] | None = None,
        now: float | None = None,
    ) -> ClientResponse:
        body = order if isinstance(order, bytes) else json.dumps(order).encode()
        all_headers = {"Content-Type": "application/json"}
        if auth == "hmac":
            all_headers.update(signed_headers(SECRET, body, time.time() if now is None else now))
        elif auth == "bearer":
            all_headers.update(BEARER)
        all_headers.update(headers or {})
        return await self.client.post("/api/v1/orders", data=body, headers=all_headers)

    async def get(self, path: str) -> Any:
        response = await self.client.get(path, headers=BEARER)
        assert response.status == 200, await response.text()
        return await response.json()

    async def follow(self, path: str) -> list[tuple[str, Any]]:
        """Every server-sent event of ``path?follow=1`` until the server ends the stream."""
        response = await self.client.get(path, params={"follow": "1"}, headers=BEARER)
        assert response.status == 200, await response.text()
        assert response.headers["Content-Type"].startswith("text/event-stream")
        events, kind = [], "message"
        async for raw in response.content:
            line = raw.decode().rstrip("\n")
            if line.startswith("event:"):
                kind = line[6:].strip()
            elif line.startswith("data:"):
                events.append((kind, json.loads(line[5:])))
        return events

    async def finished(self, order_id: str) -> dict[str, Any]:
        """Follow the order to its end; return its final record."""
        events = await self.follow(f"/api/v1/orders/{order_id}/events")
        assert events and events[-1][0] == "end", events
        return dict(events[-1][1])

    async def running_run(self, order_id: str) -> dict[str, Any]:
        async def probe() -> dict[str, Any] | None:
            runs = (await self.get(f"/api/v1/orders/{order_id}"))["runs"]
            return next((r for r in runs if r["status"] == "running"), None)

        return await wait_for_async(probe, what=f"a running run of {order_id}")

    def ledger(self) -> dict[str, list[tuple[Any, ...]]]:
        return ledger_dump(self.settings.ledger_path)


def base_settings(tmp_path: Path, project: str, **overrides: Any) -> Settings:
    settings = Settings(
        listen="127.0.0.1:0",
        webhook_secret=SECRET,
        api_token=TOKEN,
        state_dir=tmp_path / "state",
        playbook_dir=PROJECTS / project,
        max_concurrent_runs=2,
        kill_grace=2.0,
        drain_grace=5.0,
        run_env_passthrough=("LITEMAAS_TEST_EVIDENCE", "LITEMAAS_TEST_SECRET_FILE"),
    )
    return validate_settings(replace(settings, **overrides))


ServiceFactory = Callable[..., Awaitable[Service]]


async def problem(response: ClientResponse, status: int) -> dict[str, Any]:
    """The problem+json body of ``response``, which must have ``status``."""
    assert response.status == status, await response.text()
    assert response.headers["Content-Type"].startswith("application/problem+json")
    body: dict[str, Any] = await response.json()
    assert body["status"] == status and body["detail"]
    return body
