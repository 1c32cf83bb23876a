"""Running the service: listen, wait for SIGTERM/SIGINT, drain, exit 0."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable

from aiohttp import web

from litemaas_controller.api.app import make_app
from litemaas_controller.config import Settings

log = logging.getLogger(__name__)

#: printed once the socket is bound; tests and scripts read the port from it (port 0)
READY_LINE = "litemaas-controller listening on http://{host}:{port}"


async def serve(settings: Settings, make: Callable[[Settings], web.Application] = make_app) -> None:
    """Serve the application ``make`` builds (the CLI's adds the status page)."""
    app = make(settings)
    # the drain happens in cleanup_ctx; give in-flight HTTP requests a short, fixed grace
    runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=5.0, access_log=None)
    await runner.setup()
    host, port = settings.host_port
    site = web.TCPSite(runner, host, port, reuse_address=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await site.start()
        bound = int(runner.addresses[0][1])  # the real port when asked for port 0
        print(READY_LINE.format(host=host, port=bound), flush=True)
        log.info("listening on %s:%d", host, bound)
        await stop.wait()
        log.info("signal received: stopping intake and draining")
    finally:
        await runner.cleanup()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
    log.info("stopped")
