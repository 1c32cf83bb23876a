"""``/api/v1/audit``: the append-only audit trail (who, what, when, from where)."""

from __future__ import annotations

import dataclasses

from aiohttp import web

from litemaas_controller.api import keys, paging, query
from litemaas_controller.api.contract import Param, promises

routes = web.RouteTableDef()

SUBJECT = Param.text("subject", "only the entries about this order, run or instance")
AUDIT = paging.Listing("audit", paging.SEQ)


@routes.get("/api/v1/audit")
@promises(
    "The audit trail, oldest first",
    {"200": "entries", "400": "bad cursor or limit"},
    "AuditPage",
    (SUBJECT, *AUDIT.params),
)
async def list_audit(request: web.Request) -> web.Response:
    size = AUDIT.limit(request)
    entries = await request.app[keys.STORE].audit.list(
        subject=query.text(request, SUBJECT),
        after=AUDIT.seq(request) or 0,
        limit=size + 1,
    )
    return web.json_response(AUDIT.page(entries, dataclasses.asdict, lambda e: e.seq, size))
