"""Open endpoints: liveness, readiness and Prometheus metrics (no secrets, no payloads)."""

from __future__ import annotations

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from litemaas_controller.api import keys
from litemaas_controller.api.contract import promises

routes = web.RouteTableDef()


@routes.get("/healthz")
@promises("Liveness", {"200": "alive"}, "Status")
async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


@routes.get("/readyz")
@promises(
    "Readiness",
    {"200": "ready", "503": "starting, waiting for the ledger or draining"},
    "Readiness",
)
async def readyz(request: web.Request) -> web.Response:
    app = request.app
    if keys.DISPATCHER not in app or app[keys.DISPATCHER].draining or app[keys.STOPPING].is_set():
        return web.json_response({"status": "draining"}, status=503)
    if not app[keys.STORE].reachable:  # nothing new starts until a call reaches it again
        reason = "the ledger is unreachable; nothing new starts until it is back"
        return web.json_response(
            {"status": "waiting", "ledger": "unreachable", "reason": reason}, status=503
        )
    body: dict[str, object] = {"status": "ready", "runs_in_flight": app[keys.DISPATCHER].in_flight}
    if keys.REDIS in app:
        # reported, not gating: orders over HTTP still work while the message Redis is down
        body["redis"] = app[keys.REDIS].snapshot()
    if keys.LEADER in app:
        leader = app[keys.LEADER]
        body["leader"] = {"replica": leader.identity, "leads": leader.leads,
                          "holder": leader.holder}  # fmt: skip
    return web.json_response(body)


@routes.get("/metrics")
@promises("Prometheus metrics", {"200": "metrics"}, "Metrics", media="text/plain")
async def metrics(request: web.Request) -> web.Response:
    app = request.app
    body = await app[keys.METRICS].render(app[keys.STORE], app[keys.DISPATCHER].in_flight)
    response = web.Response(body=body)
    response.headers["Content-Type"] = CONTENT_TYPE_LATEST
    return response
