"""The ledger's tests on both stores: SQLite in a file, PostgreSQL in a database of its own on
the session's throwaway server (``sandbox.throwaway_pg``), reached the way the service reaches it:
a URL without the password, the password in a file."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

from litemaas_controller.ledger import (
    Action,
    InstanceStatus,
    NewOrder,
    PgStore,
    RunRecord,
    RunStart,
    SqliteStore,
    Store,
)
from sandbox.throwaway_pg import SUPERUSER, ThrowawayPostgres

#: a provision's start, as the dispatcher claims it
START = RunStart("deploy_litemaas.yml", {}, InstanceStatus.PROVISIONING, {})


def new(
    oid: str,
    action: Action = Action.PROVISION,
    instance: str = "demo",
    namespace: str | None = None,
    body: str | None = None,
) -> NewOrder:
    return NewOrder(
        id=oid,
        action=action,
        instance=instance,
        namespace=namespace or f"litemaas-{instance}",
        vars={},
        body=body or f'{{"id":"{oid}"}}',
        source="test",
        principal="bearer",
    )


@dataclass(frozen=True)
class PgLedger:
    """One database on the throwaway server: its URL (no password) and the password's file."""

    server: ThrowawayPostgres
    database: str
    password_file: Path

    @classmethod
    def create(cls, server: ThrowawayPostgres, tmp_path: Path) -> PgLedger:
        database = f"ledger_{uuid.uuid4().hex[:12]}"
        server.create_database(database)
        password_file = tmp_path / "ledger-password"
        password_file.write_text(server.password + "\n")
        password_file.chmod(0o600)
        return cls(server, database, password_file)

    @property
    def url(self) -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.server.port}/{self.database}"

    async def open(self) -> PgStore:
        return await PgStore.open(self.url, self.password_file)

    @contextmanager
    def sql(self) -> Iterator[psycopg.Connection[Any]]:
        """A direct connection (autocommit), beside the store's."""
        with psycopg.connect(self.url, password=self.server.password, autocommit=True) as conn:
            yield conn


@asynccontextmanager
async def opened(backend: str, tmp_path: Path, pg: PgLedger | None) -> AsyncIterator[Store]:
    """A fresh store of ``backend`` (``sqlite`` or ``postgres``), closed at the end."""
    store: Store
    if backend == "sqlite":
        store = await SqliteStore.open(tmp_path / "ledger.sqlite3")
    else:
        assert pg is not None
        store = await pg.open()
    try:
        yield store
    finally:
        await store.close()


async def claimed(
    store: Store, oid: str, start: RunStart = START, owner: str = "r1", lease: float = 60.0
) -> RunRecord:
    """The run of queued order ``oid``, claimed by replica ``owner``."""
    run = await store.runs.claim(oid, start, owner, lease)
    assert run is not None, f"order {oid} could not be claimed"
    return run
