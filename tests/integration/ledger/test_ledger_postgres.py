"""What is PostgreSQL's own: migrations under the advisory lock, the audit's TRUNCATE refused,
an unreachable server, a password rotated under a running store, and the password kept out of
every message."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from pathlib import Path

import psycopg
import pytest

from ledgerkit import PgLedger, new
from litellm_local import canary
from litemaas_controller.config import Settings, validate_settings
from litemaas_controller.errors import ConfigError, LedgerWriteError
from litemaas_controller.ledger import OrderStatus, PgStore
from litemaas_controller.ledger.pg.schema import SCHEMA_VERSION, migrate
from sandbox.throwaway_pg import SUPERUSER

pytestmark = pytest.mark.integration


async def test_starters_at_once_migrate_once_under_the_advisory_lock(pg: PgLedger) -> None:
    conns = [
        await psycopg.AsyncConnection.connect(pg.url, password=pg.server.password) for _ in range(4)
    ]
    try:
        results = await asyncio.gather(*(migrate(c) for c in conns))
    finally:
        for conn in conns:
            await conn.close()
    # one applied every version, the others waited for the lock and found the schema current
    assert sorted(applied for _, applied in results) == [[], [], [], [1, 2]]
    assert len({ledger_id for ledger_id, _ in results}) == 1
    stores = await asyncio.gather(pg.open(), pg.open())  # and stores opening at once agree
    try:
        assert {s.ledger_id for s in stores} == {results[0][0]}
    finally:
        for store in stores:
            await store.close()
    with pg.sql() as conn:
        version = conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
    assert version == (str(SCHEMA_VERSION),)


async def test_the_audit_cannot_be_truncated(pg: PgLedger) -> None:
    store = await pg.open()
    try:
        await store.orders.accept(new("o1"))
    finally:
        await store.close()
    with pg.sql() as conn, pytest.raises(psycopg.Error, match="append-only"):
        conn.execute("TRUNCATE audit")
    with pg.sql() as conn:
        assert conn.execute("SELECT COUNT(*) FROM audit").fetchone() == (1,)


async def test_an_unreachable_server_is_a_clear_temporary_error_and_the_store_recovers(
    pg: PgLedger,
) -> None:
    store = await pg.open()
    try:
        await store.orders.accept(new("o1"))
        pg.server.shutdown()
        try:
            with pytest.raises(LedgerWriteError, match=r"ledger \(PostgreSQL\) is unreachable"):
                await store.orders.accept(new("o2"))
        finally:
            pg.server.relaunch()
        # the same store, its pooled connections replaced: nothing lost, writes go on
        assert (await store.orders.get("o1")).status == OrderStatus.QUEUED  # type: ignore[union-attr]
        _, created = await store.orders.accept(new("o2"))
        assert created and [o.id for o in await store.orders.list()] == ["o2", "o1"]
    finally:
        await store.close()


async def test_the_password_is_in_no_message(
    pg: PgLedger, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    secret = canary("ledger")
    wrong = tmp_path / "wrong-password"
    wrong.write_text(secret)
    caplog.set_level(logging.DEBUG)
    with pytest.raises(LedgerWriteError, match="could not be opened") as refused:
        await PgStore.open(pg.url, wrong)
    assert secret not in str(refused.value) and secret not in caplog.text
    # a URL with a password in it is refused, and the refusal does not repeat it
    with_password = pg.url.replace("@", f":{secret}@", 1)
    base = Settings(api_token="t" * 16)
    for url in (with_password, f"{pg.url}?password={secret}"):
        with pytest.raises(ConfigError, match="must not hold a password") as bad:
            validate_settings(replace(base, ledger_url=url))
        assert secret not in str(bad.value)


async def test_a_password_rotated_in_its_file_reaches_new_connections_without_a_restart(
    pg: PgLedger, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The ledger's role gets a new password and its file (a mounted Secret) the new value: the
    connections the server ends are replaced with it, and the same store writes on."""
    role, first, second, wrong = f"r_{pg.database}", canary("first"), canary("second"), canary("x")
    pg.server.psql(f"CREATE ROLE {role} LOGIN PASSWORD :'pw'", pw=first)
    pg.server.psql(f'ALTER DATABASE "{pg.database}" OWNER TO {role}')
    url = pg.url.replace(f"{SUPERUSER}@", f"{role}@", 1)
    assert role in url
    password_file = tmp_path / "rotated-password"
    password_file.write_text(first + "\n")
    caplog.set_level(logging.DEBUG)
    store = await PgStore.open(url, password_file)
    try:
        await store.orders.accept(new("before"))
        pg.server.psql(f"ALTER ROLE {role} PASSWORD :'pw'", pw=second)
        password_file.write_text(second + "\n")
        ended = "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename=:'role'"
        assert "t" in pg.server.psql(ended, role=role)  # the store's connections, the listener's
        _, created = await store.orders.accept(new("after"))
        assert created
        # a wrong value in the file: refused, and neither password in the message
        password_file.write_text(wrong)
        pg.server.psql(ended, role=role)
        with pytest.raises(LedgerWriteError, match="unreachable") as refused:
            await store.orders.accept(new("refused"))
        password_file.write_text(second)
        _, created = await store.orders.accept(new("again"))
        assert created and [o.id for o in await store.orders.list()] == ["again", "after", "before"]
    finally:
        await store.close()
    for secret in (first, second, wrong):
        assert secret not in str(refused.value) and secret not in caplog.text
