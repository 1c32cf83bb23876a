"""The SQLite ledger's schema and the mapping between its rows and the ledger's records."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from typing import Any

from litemaas_controller.ledger.models import (
    Action,
    AuditRecord,
    EventRecord,
    HealthRecord,
    InstanceRecord,
    InstanceStatus,
    OrderRecord,
    OrderStatus,
    RunRecord,
    RunStatus,
)

SCHEMA_VERSION = 4

#: each instance's health transitions (v4); the current health is its newest row
HEALTH_DDL = (
    "CREATE TABLE IF NOT EXISTS health_history ("
    " seq INTEGER PRIMARY KEY AUTOINCREMENT, instance TEXT NOT NULL, status TEXT NOT NULL,"
    " reason TEXT NOT NULL, since REAL NOT NULL, at REAL NOT NULL)",
    "CREATE INDEX IF NOT EXISTS health_by_instance ON health_history (instance, seq)",
)

DDL = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS orders (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, action TEXT NOT NULL,
  instance TEXT NOT NULL, namespace TEXT NOT NULL, vars TEXT NOT NULL, body TEXT NOT NULL,
  status TEXT NOT NULL, source TEXT NOT NULL, principal TEXT NOT NULL,
  received_at REAL NOT NULL, updated_at REAL NOT NULL, message TEXT, results TEXT,
  queue_seq INTEGER, body_hash TEXT NOT NULL DEFAULT '', pruned_at REAL);
CREATE INDEX IF NOT EXISTS orders_by_instance ON orders (instance, status, seq);
CREATE TABLE IF NOT EXISTS runs (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, order_id TEXT NOT NULL,
  instance TEXT NOT NULL, action TEXT NOT NULL, playbook TEXT NOT NULL, vars TEXT NOT NULL,
  status TEXT NOT NULL, attempt INTEGER NOT NULL, created_at REAL NOT NULL, started_at REAL,
  finished_at REAL, rc INTEGER, reason TEXT, pid INTEGER, pid_start INTEGER, results TEXT);
CREATE INDEX IF NOT EXISTS runs_by_order ON runs (order_id, seq);
CREATE INDEX IF NOT EXISTS runs_by_status ON runs (status);
CREATE TABLE IF NOT EXISTS events (
  run_id TEXT NOT NULL, seq INTEGER NOT NULL, at REAL NOT NULL, event TEXT NOT NULL,
  task TEXT, host TEXT, status TEXT, stdout TEXT NOT NULL, PRIMARY KEY (run_id, seq));
CREATE TABLE IF NOT EXISTS instances (
  name TEXT PRIMARY KEY, namespace TEXT NOT NULL, status TEXT NOT NULL, vars TEXT NOT NULL,
  results TEXT, last_order TEXT, updated_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS audit (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, at REAL NOT NULL, actor TEXT NOT NULL,
  action TEXT NOT NULL, subject TEXT NOT NULL, source TEXT NOT NULL, detail TEXT NOT NULL);
CREATE TRIGGER IF NOT EXISTS audit_append_only_u BEFORE UPDATE ON audit
  BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
-- retention alone removes audit entries: only those up to the mark it sets first
CREATE TRIGGER IF NOT EXISTS audit_retained_d BEFORE DELETE ON audit
  WHEN old.seq > COALESCE((SELECT CAST(value AS INTEGER) FROM meta WHERE key='audit_pruned_to'), 0)
  BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only until retention'); END;
-- stream entries given up as dead letters (stream/entry id): a re-read never runs them again
CREATE TABLE IF NOT EXISTS dead_letters (
  entry TEXT PRIMARY KEY, message_id TEXT, kind TEXT NOT NULL, at REAL NOT NULL);
""" + "".join(f"{statement};\n" for statement in HEALTH_DDL)  # noqa: S608 - constants


def dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def body_hash(body: str) -> str:
    """What duplicates are compared by once retention has pruned the body itself."""
    return hashlib.sha256(body.encode()).hexdigest()


def loads_opt(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def order(row: sqlite3.Row) -> OrderRecord:
    return OrderRecord(
        id=row["id"],
        action=Action(row["action"]),
        instance=row["instance"],
        namespace=row["namespace"],
        vars=json.loads(row["vars"]),
        status=OrderStatus(row["status"]),
        source=row["source"],
        principal=row["principal"],
        received_at=row["received_at"],
        updated_at=row["updated_at"],
        body=row["body"],
        message=row["message"],
        results=loads_opt(row["results"]),
        pruned_at=row["pruned_at"],
        seq=row["seq"],
    )


def run(row: sqlite3.Row) -> RunRecord:
    return RunRecord(
        id=row["id"],
        order_id=row["order_id"],
        instance=row["instance"],
        action=Action(row["action"]),
        playbook=row["playbook"],
        vars=json.loads(row["vars"]),
        status=RunStatus(row["status"]),
        attempt=row["attempt"],
        created_at=row["created_at"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        rc=row["rc"],
        reason=row["reason"],
        pid=row["pid"],
        pid_start=row["pid_start"],
        results=loads_opt(row["results"]),
        seq=row["seq"],
    )


def event(row: sqlite3.Row) -> EventRecord:
    return EventRecord(
        run_id=row["run_id"],
        seq=row["seq"],
        at=row["at"],
        event=row["event"],
        task=row["task"],
        host=row["host"],
        status=row["status"],
        stdout=row["stdout"],
    )


def instance(row: sqlite3.Row) -> InstanceRecord:
    return InstanceRecord(
        name=row["name"],
        namespace=row["namespace"],
        status=InstanceStatus(row["status"]),
        vars=json.loads(row["vars"]),
        results=loads_opt(row["results"]),
        last_order=row["last_order"],
        updated_at=row["updated_at"],
    )


def health(row: sqlite3.Row) -> HealthRecord:
    return HealthRecord(
        seq=row["seq"],
        instance=row["instance"],
        status=row["status"],
        reason=row["reason"],
        since=row["since"],
        at=row["at"],
    )


def audit(row: sqlite3.Row) -> AuditRecord:
    return AuditRecord(
        seq=row["seq"],
        at=row["at"],
        actor=row["actor"],
        action=row["action"],
        subject=row["subject"],
        source=row["source"],
        detail=json.loads(row["detail"]),
    )


def newest_first(
    column: str, value: str | None, before: int | None, **more: str | None
) -> tuple[str, list[Any]]:
    """The WHERE clause and its arguments of a newest-first page: ``column=value`` (and each of
    ``more``, column=value) when given, and rows older than ``before`` (a seq) when given."""
    clauses: list[str] = []
    args: list[Any] = []
    for name, wanted in {column: value, **more}.items():
        if wanted is not None:
            clauses.append(f"{name}=?")
            args.append(wanted)
    if before is not None:
        clauses.append("seq<?")
        args.append(before)
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", args
