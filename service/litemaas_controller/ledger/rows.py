"""The mapping between the ledger's rows and its records, shared by both stores (SQLite,
PostgreSQL): JSON kept as text, times as seconds since the epoch, the same column names; and the
audit trail's row, appended the same way by both."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterable
from typing import Any, Protocol, TypeVar

from litemaas_controller.errors import ConflictError, NotFoundError
from litemaas_controller.ledger.models import (
    Action,
    AuditRecord,
    EventRecord,
    HealthRecord,
    InstanceRecord,
    InstanceStatus,
    NewOrder,
    OrderRecord,
    OrderStatus,
    RunRecord,
    RunStatus,
)

R = TypeVar("R")
T_co = TypeVar("T_co", covariant=True)


class Row(Protocol):
    """A row by column name: ``sqlite3.Row`` or psycopg's ``dict_row``."""

    def __getitem__(self, key: str, /) -> Any: ...

    def keys(self) -> Iterable[str]: ...


class Executes(Protocol[T_co]):
    """A connection in a write transaction: ``sqlite3.Connection`` (a cursor back) or psycopg's
    (a coroutine back, to await)."""

    def execute(self, sql: str, args: tuple[Any, ...], /) -> T_co: ...


def dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def body_hash(body: str) -> str:
    """What duplicates are compared by once retention has pruned the body itself."""
    return hashlib.sha256(body.encode()).hexdigest()


def loads_opt(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def duplicate(row: Row, new: NewOrder) -> OrderRecord:
    """The order already accepted with ``new``'s id: the same when the bodies' hashes match (a
    hash outlives a pruned body), else ``ConflictError``."""
    if row["body_hash"] != body_hash(new.body):
        raise ConflictError(
            f"order {new.id} was already accepted with another body; send a new id for a new order",
            details={"order": new.id},
        )
    return order(row)


def existing(record: R | None, what: str, key: str) -> R:
    """``record``; ``NotFoundError`` when there is none (``what`` ``key`` does not exist)."""
    if record is None:
        raise NotFoundError(f"{what} {key} does not exist")
    return record


def status_counts(found: Iterable[tuple[str, int]]) -> dict[OrderStatus, int]:
    """Orders by status, every status present (0 when none)."""
    counts = {s: 0 for s in OrderStatus}
    counts.update({OrderStatus(s): n for s, n in found})
    return counts


def order(row: Row) -> OrderRecord:
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


def run(row: Row) -> RunRecord:
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
        owner=row["owner"],
        token=row["token"],
        lease_until=row["lease_until"],
        cancel_requested=bool(row["cancel_requested"]),
    )


def event(row: Row) -> EventRecord:
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


def instance(row: Row) -> InstanceRecord:
    return InstanceRecord(
        name=row["name"],
        namespace=row["namespace"],
        status=InstanceStatus(row["status"]),
        vars=json.loads(row["vars"]),
        results=loads_opt(row["results"]),
        last_order=row["last_order"],
        updated_at=row["updated_at"],
    )


def health(row: Row) -> HealthRecord:
    return HealthRecord(
        seq=row["seq"],
        instance=row["instance"],
        status=row["status"],
        reason=row["reason"],
        since=row["since"],
        at=row["at"],
    )


def audit(row: Row) -> AuditRecord:
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
    ``more``, column=value) when given, and rows older than ``before`` (a seq) when given; with
    ``?`` placeholders (``ledger.reads`` puts the driver's in)."""
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


def append_audit(
    db: Executes[R],
    action: str,
    subject: str,
    detail: dict[str, Any],
    *,
    mark: str,
    actor: str = "controller",
    source: str = "dispatch",
) -> R:
    """Append to the audit trail in ``db``'s transaction; ``mark``: the driver's placeholder."""
    sql = "INSERT INTO audit (at, actor, action, subject, source, detail) VALUES (?,?,?,?,?,?)"
    return db.execute(
        sql.replace("?", mark), (time.time(), actor, action, subject, source, dumps(detail))
    )
