"""Waiting for a condition with a deadline; a failure says what was last seen, not just timeout.
Watching something change: everything seen on the way. On an event loop: ``wait_for`` (a plain
probe) and ``wait_for_async`` (an awaitable one)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable, Hashable, Iterable
from typing import Any, Generic, TypeVar

T = TypeVar("T")
H = TypeVar("H", bound=Hashable)


def wait_until(
    probe: Callable[[], T | None], timeout: float = 30, what: str = "condition", every: float = 0.1
) -> T:
    """Call `probe` every `every` seconds until it returns something truthy; return that, or fail
    with the last value. A probe that costs CPU (HTTP calls to a service, subprocesses) looks
    less often while a long wait leaves the CPU to what is awaited."""
    deadline = time.monotonic() + timeout
    last: object = None
    while True:
        last = probe()
        if last:
            return last
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout}s (last: {last!r})")
        time.sleep(every)


class Watch(Generic[H]):
    """Everything `look` returns, looked at again and again in a thread until `stop()`, which looks
    once more after the stop was asked: the last state the caller saw is among what it returns."""

    def __init__(self, look: Callable[[], Iterable[H]]) -> None:
        self._look = look
        self._seen: set[H] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="watch", daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        while True:
            stopping = self._stop.is_set()
            self._seen.update(self._look())
            if stopping:
                return

    def stop(self) -> set[H]:
        self._stop.set()
        self._thread.join()
        return self._seen


async def wait_for(probe: Callable[[], Any], timeout: float = 60, what: str = "condition") -> Any:
    """Await a condition nothing can notify us of (a file written by a playbook's process)."""
    deadline = time.monotonic() + timeout
    while not (value := probe()):
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout}s")
        await asyncio.sleep(0.05)
    return value


async def wait_for_async(
    probe: Callable[[], Awaitable[Any]], timeout: float = 60, what: str = "condition"
) -> Any:
    """Await a condition the probe must ask the service about (an HTTP request, a ledger read)."""
    deadline = time.monotonic() + timeout
    while not (value := await probe()):
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout}s")
        await asyncio.sleep(0.05)
    return value
