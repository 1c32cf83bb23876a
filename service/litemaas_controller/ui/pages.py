"""The status page's pages: read through the same ledger calls, paging and views as the API."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlencode, urlsplit

import aiohttp_jinja2
from aiohttp import web

from litemaas_controller.api import instance_health, keys, orders, paging, query
from litemaas_controller.api.contract import Param, promises
from litemaas_controller.errors import NotFoundError
from litemaas_controller.ledger import InstanceRecord, OrderRecord, OrderStatus
from litemaas_controller.runner.events import ENDED, FAILED
from litemaas_controller.ui import history

routes = web.RouteTableDef()

PAGE = 50  # rows of a list page
HISTORY = 1000  # health transitions drawn at most
RECENT = 20  # recent transitions listed under the picture

Context = dict[str, Any]

#: the lists of the pages: the API's lists (their cursors work on both), a page of 50 rows
INSTANCES = paging.Listing("instances", paging.NAME, PAGE)
ORDERS = paging.Listing("orders", paging.SEQ, PAGE)
DEAD_LETTERS = paging.Listing("dead-letters", paging.SEQ, PAGE)
HTML = "text/html"
#: the orders page's status filter: its form sends an empty value for any status
ANY_STATUS = Param.text(
    "status",
    "only the orders in this status (empty: any)",
    enum=["", *orders.STATUS.schema["enum"]],
)


def link(url: object) -> str | None:
    """``url`` when it is a plain http(s) address to show as a link; else None (never a
    ``javascript:`` or other scheme from a run's results)."""
    if not isinstance(url, str):
        return None
    parts = urlsplit(url)
    return url if parts.scheme in ("http", "https") and parts.netloc else None


def _next(request: web.Request, page: dict[str, Any]) -> str | None:
    """The query of the next page: the same filters, with the page's ``next`` cursor."""
    if "next" not in page:
        return None
    query = {k: v for k, v in request.query.items() if k != "cursor" and v}
    return "?" + urlencode({**query, "cursor": page["next"]})


async def _instance_row(request: web.Request, record: InstanceRecord) -> Context:
    store = request.app[keys.STORE]
    last = await store.orders.get(record.last_order) if record.last_order else None
    results = record.results or {}
    return {
        "record": record,
        "health": await instance_health.current(request.app, record.name),
        "last": last,
        "admin_url": link(results.get("admin_url")),
    }


@routes.get("/ui/")
@promises("Instances", {"200": "the page"}, "Html", INSTANCES.params, media=HTML)
@aiohttp_jinja2.template("instances.html")
async def instances(request: web.Request) -> Context:
    size = INSTANCES.limit(request)
    after = INSTANCES.cursor(request)
    records = await request.app[keys.STORE].instances.list(
        after=after[0] if after else "", limit=size + 1
    )
    page = INSTANCES.page(records, lambda r: r, lambda r: r.name, size)
    rows = [await _instance_row(request, r) for r in page["items"]]
    return {"rows": rows, "next": _next(request, page)}


@routes.get("/ui/instances/{name}")
@promises("An instance", {"200": "the page", "404": "no such instance"}, "Html", media=HTML)
@aiohttp_jinja2.template("instance.html")
async def instance(request: web.Request) -> Context:
    store = request.app[keys.STORE]
    name = request.match_info["name"]
    record = await store.instances.get(name)
    if record is None:
        raise NotFoundError(f"instance {name} does not exist")
    transitions = list(await store.health.history(name, 0, HISTORY))
    its_orders = list(await store.orders.list(instance=name, limit=PAGE))
    return {
        **await _instance_row(request, record),
        "chart": history.draw(transitions, its_orders, time.time()),
        "recent": list(reversed(transitions[-RECENT:])),
        "orders": its_orders,
    }


@routes.get("/ui/orders")
@promises(
    "Orders", {"200": "the page"}, "Html", (orders.INSTANCE, ANY_STATUS, *ORDERS.params),
    media=HTML,
)  # fmt: skip
@aiohttp_jinja2.template("orders.html")
async def order_list(request: web.Request) -> Context:
    size = ORDERS.limit(request)
    status = query.text(request, ANY_STATUS) or None
    name = query.text(request, orders.INSTANCE) or None
    records = await request.app[keys.STORE].orders.list(
        instance=name,
        status=status,
        limit=size + 1,
        before=ORDERS.seq(request),
    )
    page = ORDERS.page(records, lambda r: r, lambda r: r.seq, size)
    return {
        "orders": page["items"],
        "next": _next(request, page),
        "statuses": [s.value for s in OrderStatus],
        "status": status,
        "instance": name or "",
    }


@routes.get("/ui/orders/{id}")
@promises("An order and its runs", {"200": "the page", "404": "no such order"}, "Html", media=HTML)
@aiohttp_jinja2.template("order.html")
async def order(request: web.Request) -> Context:
    store = request.app[keys.STORE]
    record: OrderRecord | None = await store.orders.get(request.match_info["id"])
    if record is None:
        raise NotFoundError(f"order {request.match_info['id']} does not exist")
    runs = list(reversed(await store.runs.list(order_id=record.id)))
    tasks = []
    for run in runs:
        events = await store.events.after(run.id, 0)
        tasks += [(run, e) for e in events if e.task and e.status in ENDED]
    return {"order": record, "runs": runs, "tasks": tasks, "ended": ENDED, "failed": FAILED}


@routes.get("/ui/dead-letters")
@promises("Dead letters", {"200": "the page"}, "Html", DEAD_LETTERS.params, media=HTML)
@aiohttp_jinja2.template("dead_letters.html")
async def dead_letters(request: web.Request) -> Context:
    size = DEAD_LETTERS.limit(request)
    records = await request.app[keys.STORE].dead_letters.list(
        limit=size + 1, before=DEAD_LETTERS.seq(request)
    )
    page = DEAD_LETTERS.page(records, lambda r: r, lambda r: r.seq, size)
    return {"letters": page["items"], "next": _next(request, page)}


# the order page's live tasks: the API's own stream of the order, behind the session cookie
routes.get("/ui/orders/{id}/events")(orders.order_events)
