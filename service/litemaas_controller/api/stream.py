"""Run and order events as JSON lists, or followed live as server-sent events (``?follow=1``).

The streams are aiohttp-sse's ``EventSourceResponse`` (its pings keep idle proxies open).
Every ``event`` frame carries an ``id:`` (``<run id>:<seq>``; ``<seq>`` for health): a client
that reconnects with ``Last-Event-ID`` gets what followed it, nothing twice and nothing lost.
"""

from __future__ import annotations

import json
import re
from typing import Any

from aiohttp import web
from aiohttp_sse import EventSourceResponse

from litemaas_controller.api import keys, paging, query, views
from litemaas_controller.api.contract import Param
from litemaas_controller.errors import MalformedError, NotFoundError
from litemaas_controller.ledger import TERMINAL_ORDER, TERMINAL_RUN, Store

KEEPALIVE = 15.0  # seconds between pings, so proxies keep an idle stream open
POLL = 1.0  # longest wait for a ledger change before looking at the shutdown flag again
MAX_SEQ = 10**18 - 1  # largest ``after`` (18 digits): below SQLite's integer limit
EVENTS_PAGE = 500  # events in one page of a list, unless ``limit`` says otherwise


FOLLOW = Param.text(
    "follow",
    "1 (or true, yes): server-sent events, live until the subject ends",
    enum=["0", "1", "false", "true", "no", "yes"],
)
AFTER = Param.integer("after", 0, MAX_SEQ, "only what came after this seq")
#: an order's events come from several runs: there, ``after`` is an event's id, as Last-Event-ID
ORDER_AFTER = Param.text(
    "after",
    "only what came after this event (its id, `<run id>:<seq>`)",
    pattern=rf"^(?:{paging.RUN_EVENT.pattern})$",
)
#: the query parameters of a list that can also be followed live from a seq
FOLLOWING = (FOLLOW, AFTER)
EVENTS = paging.Listing("events", paging.SEQ, EVENTS_PAGE)
ORDER_EVENTS = paging.Listing("order-events", paging.RUN_EVENT, EVENTS_PAGE)


def follows(request: web.Request) -> bool:
    return query.text(request, FOLLOW) in ("1", "true", "yes")


def after_seq(request: web.Request) -> int:
    return query.integer(request, AFTER, 0)


def _last_event_id(request: web.Request, shape: re.Pattern[str], what: str) -> re.Match[str] | None:
    """The client's ``Last-Event-ID``, if it sent one, in the shape of this stream's ids."""
    raw = request.headers.get("Last-Event-ID")
    if not raw:
        return None
    found = shape.fullmatch(raw)
    if found is None:
        raise MalformedError(f"Last-Event-ID must be an id: this stream sent ({what})")
    return found


def last_run_event(request: web.Request) -> tuple[str, int] | None:
    """(run id, seq) of the client's ``Last-Event-ID``, if it sent one."""
    return _run_event(_last_event_id(request, paging.RUN_EVENT, "<run id>:<seq>"))


def after_run_event(request: web.Request) -> tuple[str, int] | None:
    """(run id, seq) of an order events request's ``after``, if it has one."""
    raw = query.text(request, ORDER_AFTER)
    if raw is None:
        return None
    found = paging.RUN_EVENT.fullmatch(raw)
    if found is None:
        raise MalformedError("after must be an event's id (<run id>:<seq>)")
    return _run_event(found)


def _run_event(found: re.Match[str] | None) -> tuple[str, int] | None:
    """(run id, seq) of a match of ``paging.RUN_EVENT``."""
    return None if found is None else (found[1], int(found[2]))


def last_seq(request: web.Request) -> int | None:
    """The seq of the client's ``Last-Event-ID`` on a stream whose ids are plain seqs."""
    found = _last_event_id(request, paging.SEQ, "a number")
    return None if found is None else int(found[0])


class Sse:
    """One server-sent event stream: frames, and its end when the server stops."""

    def __init__(self, request: web.Request) -> None:
        self.request = request
        self.response = EventSourceResponse(sep="\n", ping_interval=KEEPALIVE)

    async def open(self) -> None:
        await self.response.prepare(self.request)

    async def send(self, kind: str, data: Any, event_id: str | None = None) -> None:
        await self.response.send(json.dumps(data), id=event_id, event=kind)

    async def idle(self, store: Store) -> bool:
        """Wait for a change; False when the server is stopping and the stream must end."""
        if self.request.app[keys.STOPPING].is_set():
            return False
        await store.wait_changed(POLL)
        return not self.request.app[keys.STOPPING].is_set()

    async def close(self) -> web.StreamResponse:
        """Stop the pings; the response, for the handler to return."""
        self.response.stop_streaming()
        await self.response.wait()
        return self.response


async def run_events(request: web.Request, run_id: str) -> web.StreamResponse:
    store = request.app[keys.STORE]
    after = after_seq(request)
    if not follows(request):
        size = EVENTS.limit(request)
        after = max(after, EVENTS.seq(request) or 0)
        events = await store.events.after(run_id, after, limit=size + 1)
        return web.json_response(EVENTS.page(events, views.event, lambda e: e.seq, size))
    resume = last_run_event(request)
    if resume is not None and resume[0] == run_id:
        after = max(after, resume[1])
    sse = Sse(request)
    await sse.open()
    try:
        await _follow_run(sse, store, run_id, after)
    finally:
        await sse.close()
    return sse.response


async def _follow_run(sse: Sse, store: Store, run_id: str, after: int) -> None:
    while True:
        run = await store.runs.get(run_id)
        events = await store.events.after(run_id, after)
        for e in events:
            await sse.send("event", views.event(e), f"{run_id}:{e.seq}")
            after = e.seq
        if not events and run is not None and run.status in TERMINAL_RUN:
            await sse.send("end", views.run(run))
            return
        if not events and not await sse.idle(store):
            return


async def order_events(request: web.Request, order_id: str) -> web.StreamResponse:
    """Every run of the order in turn: ``run`` (status changes), ``event``, ``order``, ``end``."""
    store = request.app[keys.STORE]
    after = after_run_event(request)
    if not follows(request):
        return web.json_response(await _order_events_page(request, store, order_id, after))
    resume = last_run_event(request) or after  # a reconnect's Last-Event-ID is the later one
    sse = Sse(request)
    await sse.open()
    try:
        await _follow_order(sse, store, order_id, resume)
    finally:
        await sse.close()
    return sse.response


async def _follow_order(
    sse: Sse, store: Store, order_id: str, resume: tuple[str, int] | None
) -> None:
    cursors = await _resumed_cursors(store, order_id, resume)
    seen: dict[str, str] = {}  # run id -> last status sent
    order_status = ""
    while True:
        order = await store.orders.get(order_id)
        if order is None:
            raise NotFoundError(f"order {order_id} does not exist")
        sent = 0
        for run in reversed(await store.runs.list(order_id=order_id)):
            if seen.get(run.id) != run.status:
                seen[run.id] = run.status
                await sse.send("run", views.run(run))
                sent += 1
            for e in await store.events.after(run.id, cursors.get(run.id, 0)):
                await sse.send("event", {"run": run.id, **views.event(e)}, f"{run.id}:{e.seq}")
                cursors[run.id] = e.seq
                sent += 1
        if order_status != order.status:
            order_status = order.status
            await sse.send("order", views.order(order))
        if not sent and order.status in TERMINAL_ORDER:
            await sse.send("end", views.order(order))
            return
        if not sent and not await sse.idle(store):
            return


async def _order_events_page(
    request: web.Request, store: Store, order_id: str, after: tuple[str, int] | None
) -> dict[str, Any]:
    """One page of the order's events, every run in turn (oldest first), from the cursor, else
    from ``after`` (a cursor comes from a page that began at ``after``: it is the later one)."""
    size = ORDER_EVENTS.limit(request)
    key = ORDER_EVENTS.cursor(request)
    cursors = await _resumed_cursors(store, order_id, _run_event(key) or after)
    items: list[dict[str, Any]] = []
    for run in reversed(await store.runs.list(order_id=order_id)):
        left = size + 1 - len(items)
        if left > 0 and cursors.get(run.id, 0) < MAX_SEQ:
            events = await store.events.after(run.id, cursors.get(run.id, 0), limit=left)
            items += [{"run": run.id, **views.event(e)} for e in events]
    return ORDER_EVENTS.page(items, lambda i: i, lambda i: f"{i['run']}:{i['seq']}", size)


async def _resumed_cursors(
    store: Store, order_id: str, resume: tuple[str, int] | None
) -> dict[str, int]:
    """Where each run's events start again after ``resume``: the runs before its run (oldest
    first) were sent whole; an id of no run of this order resumes nothing."""
    runs = [r.id for r in reversed(await store.runs.list(order_id=order_id))]
    if resume is None or resume[0] not in runs:
        return {}
    done = runs[: runs.index(resume[0])]
    return {**dict.fromkeys(done, MAX_SEQ), resume[0]: resume[1]}
