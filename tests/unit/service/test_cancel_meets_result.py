"""A task cancelled in the very step its wait ends still stops (shutdown depends on it).

Python 3.11's ``asyncio.wait_for`` returned the inner result then and dropped the cancel, so a
cancelled cluster watch went on judging and a replica hung after SIGTERM (ruff bans it now)."""

from __future__ import annotations

import asyncio

import pytest

from litemaas_controller.ledger.changes import Changes

pytestmark = pytest.mark.unit


async def test_a_cancel_that_meets_a_ledger_change_still_cancels() -> None:
    changes = Changes()
    waiting = asyncio.create_task(changes.wait(60))
    await asyncio.sleep(0)  # it waits now
    changes.notify()  # the change ends the wait...
    waiting.cancel()  # ...in the same step as the cancel arrives
    with pytest.raises(asyncio.CancelledError):
        await waiting
