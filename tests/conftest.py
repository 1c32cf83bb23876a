"""Fixtures every test may use: the sandbox clusters and the asyncio hygiene check."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest

from sandbox import Sandbox

pytest_plugins = ["pytester"]


@pytest.fixture(autouse=True)
async def _no_leftover_asyncio_tasks() -> AsyncIterator[None]:
    """Fail a test that leaves asyncio tasks running: they would leak into the next test."""
    yield
    current = asyncio.current_task()
    left = [t for t in asyncio.all_tasks() if t is not current and not t.done()]
    if left:
        for task in left:
            task.cancel()
        await asyncio.gather(*left, return_exceptions=True)
        pytest.fail(f"test left {len(left)} asyncio task(s) running: {left!r}")


@pytest.fixture(scope="session")
def sandbox_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[str], Sandbox]]:
    """Start at most one sandbox per profile for the whole session; all are stopped at its end."""
    started: dict[str, Sandbox] = {}

    def get(profile: str) -> Sandbox:
        if profile not in started:
            directory = tmp_path_factory.mktemp(f"sandbox-{profile}")
            started[profile] = Sandbox.start(directory, profile, parent=os.getpid())
        return started[profile]

    yield get
    for box in started.values():
        box.stop()


@pytest.fixture(scope="session")
def sandbox_aws(sandbox_factory: Callable[[str], Sandbox]) -> Sandbox:
    return sandbox_factory("aws")


@pytest.fixture(scope="session")
def sandbox_cnv(sandbox_factory: Callable[[str], Sandbox]) -> Sandbox:
    return sandbox_factory("cnv")


@pytest.fixture(scope="session")
def sandbox_vanilla(sandbox_factory: Callable[[str], Sandbox]) -> Sandbox:
    return sandbox_factory("vanilla")


@pytest.fixture
def namespace_name() -> str:
    """A namespace name no other test uses."""
    return f"t-{uuid.uuid4().hex[:8]}"


REPO = Path(__file__).resolve().parent.parent
