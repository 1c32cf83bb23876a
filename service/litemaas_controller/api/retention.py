"""Retention: a supervised background task prunes the ledger every ``prune_interval`` seconds.

The message streams are trimmed by the message intake itself, which holds their Redis client.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator

from aiohttp import web

from litemaas_controller.api import keys
from litemaas_controller.config import Settings
from litemaas_controller.ledger import Cutoffs, Store

log = logging.getLogger(__name__)


def cutoffs(settings: Settings, now: float) -> Cutoffs:
    return Cutoffs(
        events=now - settings.event_retention,
        audit=now - settings.audit_retention,
        payloads=now - settings.order_retention,
        tombstones=now - settings.tombstone_retention,
    )


async def prune_once(store: Store, settings: Settings) -> None:
    counts = await store.prune(cutoffs(settings, time.time()))
    if any(counts.values()):
        log.info("retention pruned %s", ", ".join(f"{n} {k}" for k, n in counts.items()))


async def _prune_forever(store: Store, settings: Settings) -> None:
    while True:
        try:
            await prune_once(store, settings)
        except Exception:  # the supervisor: a failed pass is logged and tried again next time
            log.exception("pruning the ledger failed; trying again in %ss", settings.prune_interval)
        await asyncio.sleep(settings.prune_interval)


async def ctx(app: web.Application) -> AsyncIterator[None]:
    """cleanup_ctx: prune from start-up on; stop (cancel) on shutdown."""
    task = asyncio.create_task(
        _prune_forever(app[keys.STORE], app[keys.SETTINGS]), name="retention"
    )
    task.add_done_callback(_ended)
    yield
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


def _ended(task: asyncio.Task[None]) -> None:
    if not task.cancelled():
        log.error("retention task ended unexpectedly; nothing is pruned", exc_info=task.exception())
