"""Run and order events as JSON lists, or followed live as server-sent events (``?follow=1``)."""

from __future__ import annotations

import json
import time
from typing import Any

from aiohttp import web

from litemaas_controller.api import keys, query, views
from litemaas_controller.errors import NotFoundError
from litemaas_controller.ledger import TERMINAL_ORDER, TERMINAL_RUN, Store

KEEPALIVE = 15.0  # seconds between comment lines, so proxies keep an idle stream open
POLL = 1.0  # longest wait for a ledger change before looking at the shutdown flag again
MAX_SEQ = 10**18 - 1  # largest ``after`` (18 digits): below SQLite's integer limit


def follows(request: web.Request) -> bool:
    return request.query.get("follow", "0").lower() in ("1", "true", "yes")


def _after(request: web.Request) -> int:
    return query.integer(request, "after", 0, 0, MAX_SEQ)


class Sse:
    """One server-sent event stream: frames, keepalives, and the end on shutdown."""

    def __init__(self, request: web.Request) -> None:
        self.request = request
        self.response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store"}
        )
        self._last_write = time.monotonic()

    async def open(self) -> None:
        await self.response.prepare(self.request)

    async def send(self, kind: str, data: Any, event_id: str | None = None) -> None:
        frame = f"event: {kind}\n" + (f"id: {event_id}\n" if event_id else "")
        frame += f"data: {json.dumps(data)}\n\n"
        await self.response.write(frame.encode())
        self._last_write = time.monotonic()

    async def idle(self, store: Store) -> bool:
        """Wait for a change; False when the server is stopping and the stream must end."""
        if self.request.app[keys.STOPPING].is_set():
            return False
        await store.wait_changed(POLL)
        if time.monotonic() - self._last_write > KEEPALIVE:
            await self.response.write(b": keepalive\n\n")
            self._last_write = time.monotonic()
        return not self.request.app[keys.STOPPING].is_set()


async def run_events(request: web.Request, run_id: str) -> web.StreamResponse:
    store = request.app[keys.STORE]
    after = _after(request)
    if not follows(request):
        events = await store.events_after(run_id, after, limit=5000)
        return web.json_response({"items": [views.event(e) for e in events]})
    sse = Sse(request)
    await sse.open()
    while True:
        run = await store.get_run(run_id)
        events = await store.events_after(run_id, after)
        for e in events:
            await sse.send("event", views.event(e), f"{run_id}:{e.seq}")
            after = e.seq
        if not events and run is not None and run.status in TERMINAL_RUN:
            await sse.send("end", views.run(run))
            break
        if not events and not await sse.idle(store):
            break
    return sse.response


async def order_events(request: web.Request, order_id: str) -> web.StreamResponse:
    """Every run of the order in turn: ``run`` (status changes), ``event``, ``order``, ``end``."""
    store = request.app[keys.STORE]
    if not follows(request):
        runs = list(reversed(await store.list_runs(order_id=order_id)))
        items = [
            {"run": r.id, **views.event(e)} for r in runs for e in await store.events_after(r.id, 0)
        ]
        return web.json_response({"items": items})
    sse = Sse(request)
    await sse.open()
    cursors: dict[str, int] = {}
    seen: dict[str, str] = {}  # run id -> last status sent
    order_status = ""
    while True:
        order = await store.get_order(order_id)
        if order is None:
            raise NotFoundError(f"order {order_id} does not exist")
        sent = 0
        for run in reversed(await store.list_runs(order_id=order_id)):
            if seen.get(run.id) != run.status:
                seen[run.id] = run.status
                await sse.send("run", views.run(run))
                sent += 1
            for e in await store.events_after(run.id, cursors.get(run.id, 0)):
                await sse.send("event", {"run": run.id, **views.event(e)}, f"{run.id}:{e.seq}")
                cursors[run.id] = e.seq
                sent += 1
        if order_status != order.status:
            order_status = order.status
            await sse.send("order", views.order(order))
        if not sent and order.status in TERMINAL_ORDER:
            await sse.send("end", views.order(order))
            break
        if not sent and not await sse.idle(store):
            break
    return sse.response
