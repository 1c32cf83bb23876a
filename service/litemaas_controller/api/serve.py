"""Running the service: listen, hold the ledger's lock (waiting for another service that holds it),
start, wait for SIGTERM/SIGINT, drain, release the lock, exit 0."""

from __future__ import annotations

import asyncio
import io
import logging
import signal
import socket
from collections.abc import Callable

from aiohttp import web

from litemaas_controller.api.app import make_app
from litemaas_controller.api.standby import wait_for_ledger
from litemaas_controller.config import Settings
from litemaas_controller.config.paths import private_dir
from litemaas_controller.ledger.lock import LedgerLock

log = logging.getLogger(__name__)

#: printed once the socket is bound; tests and scripts read the port from it (port 0)
READY_LINE = "litemaas-controller listening on http://{host}:{port}"


async def serve(settings: Settings, make: Callable[[Settings], web.Application] = make_app) -> None:
    """Serve the application ``make`` builds (the CLI's adds the status page)."""
    host, port = settings.host_port
    sock = socket.create_server((host, port), family=_family(host), backlog=128)
    lock = LedgerLock(private_dir(settings.state_dir))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    loop.add_signal_handler(signal.SIGUSR2, _show_tasks)
    announce = _announcer(host)
    try:
        if await wait_for_ledger(lock, sock, stop, announce):
            await _run(make(settings), sock, stop, announce)
    finally:
        lock.release()
        sock.close()
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGUSR2):
            loop.remove_signal_handler(sig)
    log.info("stopped")


def _show_tasks() -> None:
    """``kill -USR2 <pid>``: every asyncio task's stack in the log, for a stop that waits (the
    threads' stacks: ``kill -USR1``)."""
    for task in asyncio.all_tasks():
        stack = io.StringIO()
        task.print_stack(file=stack)
        log.warning("task %s: %s", task.get_name(), stack.getvalue())


async def _run(app: web.Application, sock: socket.socket, stop: asyncio.Event,
               bound: Callable[[int], None]) -> None:  # fmt: skip
    # the drain happens in cleanup_ctx; give in-flight HTTP requests a short, fixed grace
    runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=5.0, access_log=None)
    await runner.setup()
    try:
        await web.SockSite(runner, sock.dup()).start()
        bound(int(runner.addresses[0][1]))
        await stop.wait()
        log.info("signal received: stopping intake and draining")
    finally:
        await runner.cleanup()


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def _announcer(host: str) -> Callable[[int], None]:
    """Prints the ready line once: when the port first answers (only the probes, while the service
    waits for the ledger)."""
    printed = False

    def announce(port: int) -> None:
        nonlocal printed
        if not printed:
            print(READY_LINE.format(host=host, port=port), flush=True)
            printed = True
        log.info("listening on %s:%d", host, port)

    return announce
