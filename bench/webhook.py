"""Order requests per second: the service's intake vs a bare aiohttp handler (same client)."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import aiohttp

from bench.common import SECRET, TOKEN, Service, project, table
from litemaas_controller.intake.auth import signed_headers

SECONDS = 3.0
CONCURRENCY = 32

BARE = """
import json
from aiohttp import web

async def order(request):
    body = await request.read()
    return web.json_response(json.loads(body), status=202)

app = web.Application()
app.router.add_post("/api/v1/orders", order)

async def main():
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    print("listening on http://127.0.0.1:%d" % site._server.sockets[0].getsockname()[1], flush=True)
    import asyncio
    await asyncio.Event().wait()

import asyncio
asyncio.run(main())
"""

Request = Callable[[int], tuple[bytes, dict[str, str]]]


async def _load(url: str, make: Request) -> tuple[float, int]:
    counter = iter(range(10**9))
    ok = 0
    deadline = time.monotonic() + SECONDS
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=CONCURRENCY)) as s:

        async def worker() -> None:
            nonlocal ok
            while time.monotonic() < deadline:
                body, headers = make(next(counter))
                async with s.post(url, data=body, headers=headers) as response:
                    await response.read()
                    ok += response.status in (200, 202)

        started = time.monotonic()
        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
        elapsed = time.monotonic() - started
    return ok / elapsed, ok


def duplicate_signed(_: int) -> tuple[bytes, dict[str, str]]:
    body = json.dumps({"id": "dup", "action": "provision", "instance": "bench"}).encode()
    headers = {**signed_headers(SECRET, body, time.time()), "Content-Type": "application/json"}
    return body, headers


def new_signed(i: int) -> tuple[bytes, dict[str, str]]:
    body = json.dumps({"id": f"new-{i}", "action": "update", "instance": "bench"}).encode()
    headers = {**signed_headers(SECRET, body, time.time()), "Content-Type": "application/json"}
    return body, headers


def new_bearer(i: int) -> tuple[bytes, dict[str, str]]:
    body = json.dumps({"id": f"bearer-{i}", "action": "update", "instance": "bench"}).encode()
    return body, {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}


def run(root: Path) -> None:
    # one run holds the only slot, so every new order stays queued: intake alone is measured
    svc = Service(
        project("hold", root),
        root / "state-webhook",
        BENCH_MARKS=str(root / "m"),
        LITEMAAS_MAX_CONCURRENT_RUNS="1",
    )
    bare = subprocess.Popen([sys.executable, "-c", BARE], stdout=subprocess.PIPE, text=True)
    try:
        assert bare.stdout is not None
        bare_url = re.search(r"(http://\S+)", bare.stdout.readline()).group(1)  # type: ignore[union-attr]
        svc.post_order({"id": "dup", "action": "provision", "instance": "bench"})
        url = f"{svc.url}/api/v1/orders"
        rows = []
        for label, make in (
            ("duplicate order, HMAC-signed", duplicate_signed),
            ("new order, HMAC-signed (ledger write)", new_signed),
            ("new order, bearer token (ledger write)", new_bearer),
        ):
            ours, _ = asyncio.run(_load(url, make))
            peer, _ = asyncio.run(_load(f"{bare_url}/api/v1/orders", make))
            rows.append([label, ours, peer, ours / peer])
        table(
            f"order requests per second ({CONCURRENCY} concurrent clients, {SECONDS:.0f} s each)",
            ["request", "litemaas-controller", "bare aiohttp handler", "ratio"],
            rows,
        )
    finally:
        bare.terminate()
        bare.wait(10)
        svc.stop()
