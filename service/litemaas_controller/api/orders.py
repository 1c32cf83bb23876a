"""``/api/v1/orders``: the order intake over HTTP and the orders' read side."""

from __future__ import annotations

import time

from aiohttp import web

from litemaas_controller.api import keys, paging, query, stream, views
from litemaas_controller.api.contract import Param, promises
from litemaas_controller.api.problems import status_of
from litemaas_controller.errors import (
    ControllerError,
    NotFoundError,
    UnsupportedMediaError,
)
from litemaas_controller.intake.auth import authenticate_order
from litemaas_controller.ledger import OrderStatus

routes = web.RouteTableDef()

INSTANCE = Param.text("instance", "only the orders of this instance")
STATUS = Param.text("status", "only the orders in this status", enum=[s.value for s in OrderStatus])
ORDERS = paging.Listing("orders", paging.SEQ)


def _source(request: web.Request) -> str:
    return f"http:{request.remote or 'unknown'}"


@routes.post("/api/v1/orders")
@promises(
    "Submit an order (HMAC-signed or bearer)",
    {"200": "duplicate: the current record", "202": "accepted: the new record",
     "400": "not JSON", "401": "bad or stale signature, or no token",
     "409": "same id with another body, or an instance rule broken",
     "413": "body too large", "415": "not application/json",
     "422": "schema or vars refused (the problem lists the allowed vars)"},
    "Order",
    body="OrderRequest",
)  # fmt: skip
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
@promises(
    "List orders (newest first)", {"200": "orders"}, "OrderPage", (INSTANCE, STATUS, *ORDERS.params)
)
async def list_orders(request: web.Request) -> web.Response:
    size = ORDERS.limit(request)
    records = await request.app[keys.STORE].orders.list(
        instance=query.text(request, INSTANCE),
        status=query.text(request, STATUS),
        limit=size + 1,
        before=ORDERS.seq(request),
    )
    return web.json_response(ORDERS.page(records, views.order, lambda r: r.seq, size))


@routes.get("/api/v1/orders/{id}")
@promises(
    "An order with its runs and the deploy's results",
    {"200": "order", "404": "no such order"},
    "OrderWithRuns",
)
async def get_order(request: web.Request) -> web.Response:
    store = request.app[keys.STORE]
    record = await store.orders.get(request.match_info["id"])
    if record is None:
        raise NotFoundError(f"order {request.match_info['id']} does not exist")
    runs = list(reversed(await store.runs.list(order_id=record.id)))
    return web.json_response(views.order(record, runs))


@routes.get("/api/v1/orders/{id}/events")
@promises(
    "Events of every run of the order, oldest first (?follow=1: server-sent events, resumed "
    "from Last-Event-ID)",
    {"200": "events", "400": "bad after, cursor, limit or Last-Event-ID", "404": "no such order"},
    "OrderEventPage",
    (*stream.ORDER_EVENTS.params, stream.FOLLOW, stream.ORDER_AFTER),
    streams=True,
)
async def order_events(request: web.Request) -> web.StreamResponse:
    order_id = request.match_info["id"]
    if await request.app[keys.STORE].orders.get(order_id) is None:
        raise NotFoundError(f"order {order_id} does not exist")
    return await stream.order_events(request, order_id)
