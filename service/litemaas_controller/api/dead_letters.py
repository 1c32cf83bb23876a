"""``/api/v1/dead-letters``: the message intake's dead letters, as the ledger marks them."""

from __future__ import annotations

from aiohttp import web

from litemaas_controller.api import keys, paging, views
from litemaas_controller.api.contract import promises

routes = web.RouteTableDef()

DEAD_LETTERS = paging.Listing("dead-letters", paging.SEQ)


@routes.get("/api/v1/dead-letters")
@promises(
    "The message intake's dead letters, newest first (the stream entry, message id, kind)",
    {"200": "dead letters"},
    "DeadLetterPage",
    DEAD_LETTERS.params,
)
async def list_dead_letters(request: web.Request) -> web.Response:
    """Newest first: the stream entry, its message id, why (the kind) and when."""
    size = DEAD_LETTERS.limit(request)
    records = await request.app[keys.STORE].dead_letters.list(
        limit=size + 1, before=DEAD_LETTERS.seq(request)
    )
    return web.json_response(DEAD_LETTERS.page(records, views.dead_letter, lambda r: r.seq, size))
