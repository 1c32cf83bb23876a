"""The SQLite ledger's own: its schema migrations (the stores' shared behaviour is tested on
both, in ``integration/ledger``)."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from ledgerkit import claimed, new
from litemaas_controller.ledger import (
    Action,
    Cutoffs,
    InstanceStatus,
    OrderStatus,
    RunOutcome,
    RunStatus,
    SqliteStore,
    open_store,
)
from litemaas_controller.ledger.sqlite.schema import SCHEMA_VERSION

pytestmark = pytest.mark.unit

FUTURE, PAST = time.time() + 3600, 0.0


async def test_a_schema_2_ledger_keeps_its_queue_and_can_place_retries(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite3"
    old = await SqliteStore.open(path)
    await old.orders.accept(new("o1"))
    await old.close()
    db = sqlite3.connect(path)  # as a ledger written before orders had a queue place
    db.execute("DROP INDEX orders_queued")
    db.execute("ALTER TABLE orders DROP COLUMN queue_seq")
    db.execute("UPDATE meta SET value='2' WHERE key='schema_version'")
    db.commit()
    db.close()

    store = await SqliteStore.open(path)
    try:
        queued = await store.orders.next_queued("demo")
        assert queued is not None and queued.id == "o1"
        run = await claimed(store, "o1")
        failed = RunOutcome(RunStatus.FAILED, OrderStatus.FAILED, InstanceStatus.FAILED)
        await store.runs.finish(run.id, failed, token=run.token)
        await store.orders.accept(new("o2", Action.UPDATE))
        await store.orders.retry("o1", "again")
        first = await store.orders.next_queued("demo")
        assert first is not None and first.id == "o2"  # the retry went behind o2
    finally:
        await store.close()


V1_LEDGER = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT INTO meta VALUES ('ledger_id', 'abc'), ('schema_version', '1');
CREATE TABLE orders (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, action TEXT NOT NULL,
  instance TEXT NOT NULL, namespace TEXT NOT NULL, vars TEXT NOT NULL, body TEXT NOT NULL,
  status TEXT NOT NULL, source TEXT NOT NULL, principal TEXT NOT NULL,
  received_at REAL NOT NULL, updated_at REAL NOT NULL, message TEXT, results TEXT);
INSERT INTO orders VALUES (1, 'o1', 'provision', 'demo', 'litemaas-demo', '{}', '{"id":"o1"}',
  'succeeded', 'test', 'bearer', 1.0, 1.0, NULL, NULL);
CREATE TABLE audit (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, at REAL NOT NULL, actor TEXT NOT NULL,
  action TEXT NOT NULL, subject TEXT NOT NULL, source TEXT NOT NULL, detail TEXT NOT NULL);
INSERT INTO audit VALUES (1, 1.0, 'bearer', 'order.accepted', 'o1', 'test', '{}');
CREATE TRIGGER audit_append_only_d BEFORE DELETE ON audit
  BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
"""


async def test_a_version_1_ledger_is_migrated_at_start(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    db = sqlite3.connect(path)
    db.executescript(V1_LEDGER)
    db.close()
    store = await SqliteStore.open(path)
    try:
        _, created = await store.orders.accept(new("o1"))  # its body hash was filled in
        assert not created
        await store.prune(Cutoffs(events=PAST, audit=FUTURE, payloads=PAST, tombstones=PAST))
        assert [a.subject for a in await store.audit.list()] == ["ledger"]
    finally:
        await store.close()
    db = sqlite3.connect(path)
    version = db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
    assert version == (str(SCHEMA_VERSION),)
    db.close()


async def test_a_sqlite_url_names_the_ledger_file(tmp_path: Path) -> None:
    path = tmp_path / "elsewhere" / "ledger.db"
    store = await open_store(f"sqlite://{path}", tmp_path / "default.sqlite3", None)
    try:
        assert isinstance(store, SqliteStore)
        await store.orders.accept(new("o1"))
    finally:
        await store.close()
    assert path.exists() and not (tmp_path / "default.sqlite3").exists()
