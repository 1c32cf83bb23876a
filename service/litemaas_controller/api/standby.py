"""Waiting for the ledger (``ledger.lock``): while another service holds the state directory, as a
pod that is still stopping holds it while its replacement starts on the same volume, this one
answers its probes and does nothing else. ``/healthz`` says alive, so the kubelet does not restart
it; ``/readyz``, and every other path, answers 503 with the reason, so no traffic comes to it. It
starts for real once the lock is free."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Callable

from aiohttp import web

from litemaas_controller.api import health, problems
from litemaas_controller.ledger.lock import LedgerLock

log = logging.getLogger(__name__)

#: how often a waiting service tries the lock again (the holder's exit frees it at once)
POLL_SECONDS = 0.5


async def wait_for_ledger(
    lock: LedgerLock, sock: socket.socket, stop: asyncio.Event, bound: Callable[[int], None]
) -> bool:
    """Hold ``lock``, answering probes on ``sock`` while another holds it (``bound(port)`` once
    they are answered). False when ``stop`` is set first."""
    if lock.acquire():
        return True
    holder = lock.holder()
    reason = f"waiting for the ledger: {lock.path} is held by {holder}"
    log.warning("%s; this service starts once it is released", reason)
    runner = web.AppRunner(_probes(reason), handle_signals=False, access_log=None)
    await runner.setup()
    # a duplicate: stopping the site closes its socket, and the service goes on listening on this
    # one (connections that arrive meanwhile wait in its backlog)
    await web.SockSite(runner, sock.dup()).start()
    bound(sock.getsockname()[1])
    try:
        while not lock.acquire():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(POLL_SECONDS):
                    await stop.wait()
            if stop.is_set():
                return False
    finally:
        await runner.cleanup()
    log.info("the ledger's lock is released by %s: starting", holder)
    return True


def _probes(reason: str) -> web.Application:
    async def not_ready(request: web.Request) -> web.Response:
        return web.json_response({"status": "waiting", "reason": reason}, status=503)

    async def unavailable(request: web.Request) -> web.Response:
        return problems.problem(503, reason, "ledger")

    app = web.Application()
    app.router.add_get("/healthz", health.healthz)
    app.router.add_get("/readyz", not_ready)
    app.router.add_route("*", "/{tail:.*}", unavailable)
    return app
