"""Every test here runs on both stores (``store``, parametrized), or on PostgreSQL alone (``pg``).

The session's PostgreSQL starts only when a PostgreSQL case runs; each test has a database of
its own on it (about 0.1 s to create).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

import litellm_local
from ledgerkit import PgLedger, opened
from litemaas_controller.ledger import Store

postgres = litellm_local.postgres

BACKENDS = ("sqlite", "postgres")


@pytest.fixture
def pg(request: pytest.FixtureRequest, tmp_path: Path) -> PgLedger:
    return PgLedger.create(request.getfixturevalue("postgres"), tmp_path)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def store(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[Store]:
    pg = request.getfixturevalue("pg") if backend == "postgres" else None
    async with opened(backend, tmp_path, pg) as s:
        yield s
