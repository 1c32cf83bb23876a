"""The PostgreSQL ledger's runs and their events: the rules of ``sqlite.runs``.

Claiming, finishing and requeueing a run update its order and instance (and the audit trail) in
the same transaction.  Replicas share the queue: a claim locks the order row (``FOR UPDATE SKIP
LOCKED``: a replica never waits for another's claim), and the unique index on the instance's
unfinished run refuses a second one, whichever replicas claim at once.  Leases count on the
server's clock (``clock_timestamp()``), never a replica's.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable

import psycopg

from litemaas_controller.errors import FencedError, NotFoundError
from litemaas_controller.ledger import rows
from litemaas_controller.ledger.models import (
    EventRecord,
    Lease,
    OrderStatus,
    RunOutcome,
    RunRecord,
    RunStart,
    RunStatus,
)
from litemaas_controller.ledger.pg.db import Conn, Db, audit
from litemaas_controller.ledger.reads import EventReads, RunReads
from litemaas_controller.ledger.rows import dumps

#: the ledger's clock, in epoch seconds
NOW = "extract(epoch from clock_timestamp())"
#: a write about a run applies only while the run is unfinished and still carries its token
HELD = "id=%s AND token IS NOT DISTINCT FROM %s AND status IN ('queued', 'running')"


class PgRuns:
    """``Runs`` on PostgreSQL; see ``ledger.store.Runs`` for the contract of each method.
    The reads are ``RunReads``."""

    def __init__(self, db: Db) -> None:
        self._db = db
        reads = RunReads(db, NOW)
        self.get, self.list, self.unfinished = reads.get, reads.list, reads.unfinished
        self.owned, self.expired = reads.owned, reads.expired

    async def _found(self, run_id: str) -> RunRecord:
        return rows.existing(await self.get(run_id), "run", run_id)

    async def claim(
        self, order_id: str, start: RunStart, owner: str, lease: float
    ) -> RunRecord | None:
        run_id = f"run-{uuid.uuid4().hex[:12]}"
        try:
            async with self._db.tx() as db:
                if not await _claim(db, run_id, order_id, start, owner, lease):
                    return None
        except psycopg.errors.UniqueViolation:
            return None  # another replica's claim for the instance came first
        return await self._found(run_id)

    async def renew(self, run_id: str, token: int | None, lease: float) -> Lease:
        # not a change anyone waits for: no write transaction, no notification
        row = await self._db.one(
            f"UPDATE runs SET lease_until={NOW} + %s WHERE {HELD} RETURNING cancel_requested",  # noqa: S608
            lease, run_id, token,
        )  # fmt: skip
        if row is None:
            return Lease.LOST
        return Lease.CANCEL if row["cancel_requested"] else Lease.HELD

    async def request_cancel(self, run_id: str) -> RunRecord:
        async with self._db.tx() as db:
            await db.execute(
                "UPDATE runs SET cancel_requested=TRUE WHERE id=%s AND status IN (%s,%s)",
                (run_id, RunStatus.QUEUED, RunStatus.RUNNING),
            )
        return await self._found(run_id)

    async def record_process(
        self, run_id: str, pid: int, pid_start: int, *, token: int | None
    ) -> None:
        async with self._db.tx() as db:
            cur = await db.execute(
                f"UPDATE runs SET pid=%s, pid_start=%s WHERE {HELD}",  # noqa: S608
                (pid, pid_start, run_id, token),
            )
            if not cur.rowcount:
                raise await self._refused(run_id, token)

    async def finish(self, run_id: str, outcome: RunOutcome, *, token: int | None) -> RunRecord:
        now = time.time()
        results = dumps(outcome.results) if outcome.results is not None else None
        async with self._db.tx() as db:
            cur = await db.execute(
                "UPDATE runs SET status=%s, finished_at=%s, rc=%s, reason=%s, results=%s"  # noqa: S608
                f" WHERE {HELD} RETURNING order_id, instance",
                (outcome.status, now, outcome.rc, outcome.reason, results, run_id, token),
            )
            if (run := await cur.fetchone()) is None:
                raise await self._refused(run_id, token)
            await db.execute(
                "UPDATE orders SET status=%s, updated_at=%s, message=%s, results=%s WHERE id=%s",
                (outcome.order_status, now, outcome.reason, results, run["order_id"]),
            )
            if outcome.instance_status is not None:
                await db.execute(
                    "UPDATE instances SET status=%s, results=COALESCE(%s, results),"
                    " updated_at=%s WHERE name=%s",
                    (outcome.instance_status, results, now, run["instance"]),
                )
            detail = {"order": run["order_id"], "status": outcome.status, "reason": outcome.reason}
            await audit(db, "run.finished", run_id, detail)
        return await self._found(run_id)

    async def requeue(
        self, run_id: str, status: str, reason: str, *, token: int | None
    ) -> RunRecord:
        now = time.time()
        async with self._db.tx() as db:
            cur = await db.execute(
                f"UPDATE runs SET status=%s, finished_at=%s, reason=%s WHERE {HELD}"  # noqa: S608
                " RETURNING order_id",
                (RunStatus(status), now, reason, run_id, token),
            )
            if (run := await cur.fetchone()) is None:
                raise await self._refused(run_id, token)
            await db.execute(
                "UPDATE orders SET status=%s, updated_at=%s, message=%s"
                " WHERE id=%s AND status IN (%s,%s)",
                (OrderStatus.QUEUED, now, reason, run["order_id"], OrderStatus.RUNNING,
                 OrderStatus.QUEUED),
            )  # fmt: skip
            detail = {"order": run["order_id"], "reason": reason}
            await audit(db, "run.interrupted", run_id, detail)
        return await self._found(run_id)

    async def _refused(self, run_id: str, token: int | None) -> Exception:
        """Why a write about ``run_id`` changed nothing: no such run, or not this token's."""
        if await self.get(run_id) is None:
            return NotFoundError(f"run {run_id} does not exist")
        return FencedError(run_id, token)


async def _claim(
    db: Conn, run_id: str, order_id: str, start: RunStart, owner: str, lease: float
) -> bool:
    """In ``db``'s transaction: the run of ``order_id``, running, when the order is queued
    (and no other claim holds it), first of its instance's queue, and the instance has no
    unfinished run; False (nothing written) otherwise."""
    cur = await db.execute(
        "SELECT instance, action FROM orders WHERE id=%s AND status=%s FOR UPDATE SKIP LOCKED",
        (order_id, OrderStatus.QUEUED),
    )
    if (order := await cur.fetchone()) is None:
        return False
    cur = await db.execute(
        "SELECT id FROM orders WHERE instance=%s AND status=%s"
        " ORDER BY COALESCE(queue_seq, seq) LIMIT 1",
        (order["instance"], OrderStatus.QUEUED),
    )
    first = await cur.fetchone()
    if first is None or first["id"] != order_id:
        return False
    now = time.time()
    cur = await db.execute(
        "INSERT INTO runs (id, order_id, instance, action, playbook, vars, status, attempt,"  # noqa: S608
        " created_at, started_at, owner, token, lease_until)"
        " SELECT %s,%s,%s,%s,%s,%s,%s,"
        " (SELECT COUNT(*) + 1 FROM runs WHERE order_id=%s), %s, %s, %s, nextval('run_tokens'),"
        f" {NOW} + %s"
        " WHERE NOT EXISTS (SELECT 1 FROM runs WHERE instance=%s AND status IN (%s,%s))"
        " RETURNING attempt",
        (run_id, order_id, order["instance"], order["action"], start.playbook,
         dumps(start.extravars), RunStatus.RUNNING, order_id, now, now, owner, lease,
         order["instance"], RunStatus.QUEUED, RunStatus.RUNNING),
    )  # fmt: skip
    if (run := await cur.fetchone()) is None:
        return False
    await db.execute(
        "UPDATE orders SET status=%s, updated_at=%s WHERE id=%s",
        (OrderStatus.RUNNING, now, order_id),
    )
    await db.execute(
        "UPDATE instances SET status=%s, vars=%s, last_order=%s, updated_at=%s WHERE name=%s",
        (start.instance_status, dumps(start.instance_vars), order_id, now, order["instance"]),
    )
    detail = {"order": order_id, "attempt": run["attempt"], "owner": owner}
    await audit(db, "run.started", run_id, detail)
    return True


class PgEvents:
    """``Events`` on PostgreSQL; the reads are ``EventReads``."""

    def __init__(self, db: Db) -> None:
        self._db = db
        self.after = EventReads(db).after

    async def append(
        self, events: Iterable[EventRecord], *, token: int | None, run_id: str
    ) -> bool:
        async with self._db.tx() as db:
            # the run's row held until the commit: a takeover waits, or has happened already
            cur = await db.execute(f"SELECT 1 FROM runs WHERE {HELD} FOR SHARE", (run_id, token))  # noqa: S608
            if await cur.fetchone() is None:
                return False
            async with db.cursor() as insert:
                await insert.executemany(
                    "INSERT INTO events VALUES (%s,%s,%s,%s,%s,%s,%s,%s) ON CONFLICT DO NOTHING",
                    [
                        (e.run_id, e.seq, e.at, e.event, e.task, e.host, e.status, e.stdout)
                        for e in events
                    ],
                )
        return True
