"""``/api/v1/runs``: runs, their events (live with ``?follow=1``) and cancellation."""

from __future__ import annotations

from aiohttp import web

from litemaas_controller.api import access, keys, paging, query, stream, views
from litemaas_controller.api.contract import Param, promises
from litemaas_controller.errors import NotFoundError

routes = web.RouteTableDef()

ORDER = Param.text("order", "only the runs of this order")
RUNS = paging.Listing("runs", paging.SEQ)


@routes.get("/api/v1/runs")
@promises("List runs (newest first)", {"200": "runs"}, "RunPage", (ORDER, *RUNS.params))
async def list_runs(request: web.Request) -> web.Response:
    size = RUNS.limit(request)
    records = await request.app[keys.STORE].runs.list(
        order_id=query.text(request, ORDER),
        limit=size + 1,
        before=RUNS.seq(request),
    )
    return web.json_response(RUNS.page(records, views.run, lambda r: r.seq, size))


@routes.get("/api/v1/runs/{id}")
@promises("A run", {"200": "run", "404": "no such run"}, "Run")
async def get_run(request: web.Request) -> web.Response:
    record = await request.app[keys.STORE].runs.get(request.match_info["id"])
    if record is None:
        raise NotFoundError(f"run {request.match_info['id']} does not exist")
    return web.json_response(views.run(record))


@routes.get("/api/v1/runs/{id}/events")
@promises(
    "Events of a run, oldest first (?follow=1: server-sent events, resumed from Last-Event-ID)",
    {"200": "events", "400": "bad after, cursor, limit or Last-Event-ID", "404": "no such run"},
    "EventPage",
    (*stream.EVENTS.params, *stream.FOLLOWING),
    streams=True,
)
async def run_events(request: web.Request) -> web.StreamResponse:
    run_id = request.match_info["id"]
    if await request.app[keys.STORE].runs.get(run_id) is None:
        raise NotFoundError(f"run {run_id} does not exist")
    return await stream.run_events(request, run_id)


@routes.post("/api/v1/runs/{id}/cancel")
@promises(
    "Cancel a run: its whole process tree is ended",
    {"200": "the cancelled run", "404": "no such run", "409": "the run already ended"},
    "Run",
)
async def cancel_run(request: web.Request) -> web.Response:
    principal = request[access.PRINCIPAL]
    run_id = request.match_info["id"]
    store = request.app[keys.STORE]
    if await store.runs.get(run_id) is None:
        raise NotFoundError(f"run {run_id} does not exist")
    await store.audit.append(
        principal, "run.cancel_requested", run_id, f"http:{request.remote}", {}
    )
    record = await request.app[keys.DISPATCHER].cancel(run_id)
    return web.json_response(views.run(record))
