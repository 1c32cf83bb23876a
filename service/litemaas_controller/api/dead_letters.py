"""``/api/v1/dead-letters``: the message intake's dead letters, as the ledger marks them."""

from __future__ import annotations

from aiohttp import web

from litemaas_controller.api import keys, paging, views

routes = web.RouteTableDef()


@routes.get("/api/v1/dead-letters")
async def list_dead_letters(request: web.Request) -> web.Response:
    """Newest first: the stream entry, its message id, why (the kind) and when."""
    size = paging.limit(request)
    records = await request.app[keys.STORE].list_dead_letters(
        limit=size + 1, before=paging.seq_cursor(request, "dead-letters")
    )
    return web.json_response(
        paging.page("dead-letters", records, views.dead_letter, lambda r: r.seq, size)
    )
