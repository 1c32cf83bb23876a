"""``/api/v1/runs``: runs, their events (live with ``?follow=1``) and cancellation."""

from __future__ import annotations

from aiohttp import web

from litemaas_controller.api import access, keys, paging, stream, views
from litemaas_controller.errors import NotFoundError

routes = web.RouteTableDef()


@routes.get("/api/v1/runs")
async def list_runs(request: web.Request) -> web.Response:
    size = paging.limit(request)
    records = await request.app[keys.STORE].list_runs(
        order_id=request.query.get("order"),
        limit=size + 1,
        before=paging.seq_cursor(request, "runs"),
    )
    return web.json_response(paging.page("runs", records, views.run, lambda r: r.seq, size))


@routes.get("/api/v1/runs/{id}")
async def get_run(request: web.Request) -> web.Response:
    record = await request.app[keys.STORE].get_run(request.match_info["id"])
    if record is None:
        raise NotFoundError(f"run {request.match_info['id']} does not exist")
    return web.json_response(views.run(record))


@routes.get("/api/v1/runs/{id}/events")
async def run_events(request: web.Request) -> web.StreamResponse:
    run_id = request.match_info["id"]
    if await request.app[keys.STORE].get_run(run_id) is None:
        raise NotFoundError(f"run {run_id} does not exist")
    return await stream.run_events(request, run_id)


@routes.post("/api/v1/runs/{id}/cancel")
async def cancel_run(request: web.Request) -> web.Response:
    principal = request[access.PRINCIPAL]
    run_id = request.match_info["id"]
    store = request.app[keys.STORE]
    if await store.get_run(run_id) is None:
        raise NotFoundError(f"run {run_id} does not exist")
    await store.audit(principal, "run.cancel_requested", run_id, f"http:{request.remote}", {})
    record = await request.app[keys.DISPATCHER].cancel(run_id)
    return web.json_response(views.run(record))
