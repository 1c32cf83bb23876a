"""``/api/v1/audit``: the append-only audit trail (who, what, when, from where)."""

from __future__ import annotations

import dataclasses

from aiohttp import web

from litemaas_controller.api import keys, paging

routes = web.RouteTableDef()


@routes.get("/api/v1/audit")
async def list_audit(request: web.Request) -> web.Response:
    size = paging.limit(request)
    entries = await request.app[keys.STORE].list_audit(
        subject=request.query.get("subject"),
        after=paging.seq_cursor(request, "audit") or 0,
        limit=size + 1,
    )
    return web.json_response(
        paging.page("audit", entries, dataclasses.asdict, lambda e: e.seq, size)
    )
