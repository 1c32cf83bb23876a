"""Who may call what: one middleware asks every request for the bearer token, but the open paths.

A route added later is closed unless it is listed here: no handler checks the token itself.
The status page's paths (``/``, ``/ui`` and below) are the ``ui`` middleware's to guard.
The order intake authenticates its own requests (a signature over the raw body, or the bearer
token: ``intake.auth.authenticate_order``), since it must read the body first.
"""

from __future__ import annotations

from aiohttp import web
from aiohttp.typedefs import Handler

from litemaas_controller.api import keys
from litemaas_controller.intake.auth import require_bearer

#: the paths anyone may GET (probes, metrics, the published documents), with their summaries
OPEN = {
    "/healthz": "Liveness",
    "/readyz": "Readiness (503 while starting, waiting for the ledger or draining)",
    "/metrics": "Prometheus metrics",
    "/api/v1/openapi.json": "This document",
    "/api/v1/schemas/order.json": "The order's JSON schema",
    "/api/v1/schemas/messages/{type}.json": "The JSON schema of a model-change message type",
}
#: (method, path) of the routes that authenticate their callers themselves
SELF_AUTHENTICATED = frozenset({("POST", "/api/v1/orders")})
#: the status page (``litemaas_controller.ui``): its own session cookie guards it, not the token
UI_ROOT = "/ui"
#: who called: ``bearer`` (set by the middleware on every closed route)
PRINCIPAL = web.RequestKey("principal", str)


def is_page(path: str) -> bool:
    """Is ``path`` the status page's (``/``, ``/ui`` and below), not the API's?"""
    return path in ("/", UI_ROOT) or path.startswith(UI_ROOT + "/")


def _is_open(request: web.Request) -> bool:
    if request.match_info.http_exception is not None:
        return True  # no such route or method: the router's 404 or 405 answers
    path = request.match_info.route.resource.canonical if request.match_info.route.resource else ""
    method = "GET" if request.method == "HEAD" else request.method
    return (
        (method == "GET" and path in OPEN) or (method, path) in SELF_AUTHENTICATED or is_page(path)
    )


@web.middleware
async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if not _is_open(request):
        request[PRINCIPAL] = require_bearer(request.app[keys.SETTINGS], request.headers)
    return await handler(request)
