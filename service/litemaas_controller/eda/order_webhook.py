"""``rhpds.litemaas.order_webhook``: the service's order intake as an ansible-rulebook source.

A POST to ``/api/v1/orders`` (the service's path) is judged as the service judges it: the body
size limit, ``Content-Type: application/json``, the signature over the raw body inside the
timestamp window or the bearer token (``intake.auth``), strict JSON, the order schema and its
refusals (``intake.order_check``).  An id already taken inside the dedupe window runs nothing.
An accepted order becomes one event with the extra vars the service would pass (without a
ledger: no recorded vars are merged into an update) and is answered 202; a refusal is answered
with the service's problem+json and puts nothing on the queue.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aiohttp import web

from litemaas_controller.api import problems
from litemaas_controller.config import Settings
from litemaas_controller.dispatch.plans import order_extravars
from litemaas_controller.eda.args import Args
from litemaas_controller.eda.seen import SeenIds, digest
from litemaas_controller.errors import ConflictError, UnsupportedMediaError
from litemaas_controller.intake.auth import authenticate_order
from litemaas_controller.intake.order_check import OrderCheck, canonical
from litemaas_controller.intake.ownership import default_namespace
from litemaas_controller.ledger import Action
from litemaas_controller.role.order_vars import load_order_vars

log = logging.getLogger(__name__)

PATH = "/api/v1/orders"
ARGS = {
    "host", "port", "webhook_secret", "api_token", "signature_window", "max_body_bytes",
    "dedupe_window", "state_file", "argument_specs",
}  # fmt: skip


class OrderWebhook:
    """The request handler: one accepted order → one event on ``queue``."""

    def __init__(
        self,
        queue: asyncio.Queue[Any],
        settings: Settings,
        check: OrderCheck,
        seen: SeenIds,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._queue = queue
        self._settings = settings
        self._check = check
        self._seen = seen
        self._clock = clock

    def app(self) -> web.Application:
        max_body = self._settings.max_body_bytes
        app = web.Application(client_max_size=max_body, middlewares=[problems.middleware(max_body)])
        app.router.add_post(PATH, self.submit)
        return app

    async def submit(self, request: web.Request) -> web.Response:
        if request.content_type != "application/json":
            raise UnsupportedMediaError(
                f"send the order as Content-Type: application/json (got {request.content_type})"
            )
        body = await request.read()
        now = self._clock()
        principal = authenticate_order(self._settings, request.headers, body, now)
        doc = self._check.check(body)
        body_digest = digest(canonical(doc))
        taken = self._seen.get(doc["id"], now)
        if taken is not None and taken != body_digest:
            raise ConflictError(
                f"order id {doc['id']} was taken by another order; use a new id",
                details={"id": doc["id"]},
            )
        if taken is not None:
            log.info("order %s is a duplicate inside the window; nothing runs again", doc["id"])
            return web.json_response({"id": doc["id"], "status": "duplicate"}, status=200)
        self._seen.add(doc["id"], body_digest, now)
        event = order_event(doc, principal)
        await self._queue.put(event)
        log.info("order %s accepted: %s %s", doc["id"], doc["action"], doc["instance"])
        return web.json_response({**event["order"], "status": "queued"}, status=202)


def order_event(doc: dict[str, Any], principal: str) -> dict[str, Any]:
    """The event of a valid order: what it is, and the playbook's extra vars."""
    action = Action(doc["action"])
    namespace = doc.get("namespace") or default_namespace(doc["instance"])
    return {
        "order": {
            "id": doc["id"],
            "action": action.value,
            "instance": doc["instance"],
            "namespace": namespace,
            "principal": principal,
        },
        "extravars": order_extravars(
            action, doc["instance"], namespace, dict(doc.get("vars", {})), {}
        ),
    }


def from_args(
    queue: asyncio.Queue[Any], args: dict[str, Any], default_specs: Path
) -> tuple[OrderWebhook, str, int]:
    """The handler and where it listens, from the source's arguments (checked here)."""
    a = Args("rhpds.litemaas.order_webhook", args, ARGS)
    settings = Settings(
        webhook_secret=a.text("webhook_secret"),
        api_token=a.text("api_token"),
        signature_window=a.number("signature_window", 300.0, 1.0, 3600.0),
        max_body_bytes=a.integer("max_body_bytes", 65536, 1024, 16 * 1024 * 1024),
    )
    if not settings.webhook_secret and not settings.api_token:
        a.fail("give webhook_secret (signed orders), api_token (bearer), or both")
    window = a.number("dedupe_window", 86400.0, 1.0, 30 * 86400.0)
    if window < settings.signature_window:
        a.fail("dedupe_window must be at least signature_window (replays are refused)")
    specs = a.path("argument_specs") or default_specs
    check = OrderCheck(load_order_vars(specs))
    hook = OrderWebhook(queue, settings, check, SeenIds(window, a.path("state_file")))
    host = a.text("host", "0.0.0.0") or "0.0.0.0"  # noqa: S104 (a webhook listens for others)
    return hook, host, a.integer("port", None, 1, 65535)


async def serve(queue: asyncio.Queue[Any], args: dict[str, Any], default_specs: Path) -> None:
    """Listen until cancelled (ansible-rulebook cancels its sources when it stops)."""
    hook, host, port = from_args(queue, args, default_specs)
    runner = web.AppRunner(hook.app(), access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
        log.info("order webhook listening on %s:%d%s", host, port, PATH)
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()
