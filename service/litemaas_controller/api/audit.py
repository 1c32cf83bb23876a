"""``/api/v1/audit``: the append-only audit trail (who, what, when, from where)."""

from __future__ import annotations

import dataclasses

from aiohttp import web

from litemaas_controller.api import keys

routes = web.RouteTableDef()


@routes.get("/api/v1/audit")
async def list_audit(request: web.Request) -> web.Response:
    subject = request.query.get("subject")
    entries = await request.app[keys.STORE].list_audit(subject=subject)
    return web.json_response({"items": [dataclasses.asdict(e) for e in entries]})
