"""Change notification within one process: every committed write wakes the waiters."""

from __future__ import annotations

import asyncio


class Changes:
    """``wait`` returns True once anything was written, False after its timeout without."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def notify(self) -> None:
        """Wake every waiter, then arm a fresh event for the next write."""
        self._event.set()
        self._event = asyncio.Event()

    async def wait(self, timeout: float) -> bool:
        try:
            async with asyncio.timeout(timeout):
                await self._event.wait()
        except TimeoutError:
            return False
        return True
