"""``/api/v1/orders``: the order intake over HTTP and the orders' read side."""

from __future__ import annotations

import time

from aiohttp import web

from litemaas_controller.api import keys, paging, stream, views
from litemaas_controller.api.problems import status_of
from litemaas_controller.errors import (
    ControllerError,
    NotFoundError,
    UnsupportedMediaError,
)
from litemaas_controller.intake.auth import authenticate_order

routes = web.RouteTableDef()


def _source(request: web.Request) -> str:
    return f"http:{request.remote or 'unknown'}"


@routes.post("/api/v1/orders")
async def submit_order(request: web.Request) -> web.Response:
    app = request.app
    metrics = app[keys.METRICS]
    try:
        if request.content_type != "application/json":
            raise UnsupportedMediaError(
                f"send the order as Content-Type: application/json (got {request.content_type})"
            )
        body = await request.read()
        principal = authenticate_order(app[keys.SETTINGS], request.headers, body, time.time())
        record, created = await app[keys.INTAKE].submit(
            body, principal=principal, source=_source(request)
        )
    except (ControllerError, web.HTTPRequestEntityTooLarge) as exc:
        code = exc.status if isinstance(exc, web.HTTPException) else status_of(exc)
        metrics.intake.labels(f"refused:{code}").inc()
        raise
    metrics.intake.labels("accepted" if created else "duplicate").inc()
    status = 202 if created else 200
    response = web.json_response(views.order(record), status=status)
    response.headers["Location"] = f"/api/v1/orders/{record.id}"
    return response


@routes.get("/api/v1/orders")
async def list_orders(request: web.Request) -> web.Response:
    size = paging.limit(request)
    records = await request.app[keys.STORE].list_orders(
        instance=request.query.get("instance"),
        status=request.query.get("status"),
        limit=size + 1,
        before=paging.seq_cursor(request, "orders"),
    )
    return web.json_response(paging.page("orders", records, views.order, lambda r: r.seq, size))


@routes.get("/api/v1/orders/{id}")
async def get_order(request: web.Request) -> web.Response:
    store = request.app[keys.STORE]
    record = await store.get_order(request.match_info["id"])
    if record is None:
        raise NotFoundError(f"order {request.match_info['id']} does not exist")
    runs = list(reversed(await store.list_runs(order_id=record.id)))
    return web.json_response(views.order(record, runs))


@routes.get("/api/v1/orders/{id}/events")
async def order_events(request: web.Request) -> web.StreamResponse:
    order_id = request.match_info["id"]
    if await request.app[keys.STORE].get_order(order_id) is None:
        raise NotFoundError(f"order {order_id} does not exist")
    return await stream.order_events(request, order_id)
