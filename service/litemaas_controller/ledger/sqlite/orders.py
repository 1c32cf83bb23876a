"""The SQLite ledger's orders: acceptance (dedupe, supersede) and the queue."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Collection

from litemaas_controller.ledger import rows
from litemaas_controller.ledger.models import (
    Action,
    InstanceStatus,
    NewOrder,
    OrderRecord,
    OrderStatus,
)
from litemaas_controller.ledger.reads import OrderReads
from litemaas_controller.ledger.rows import dumps
from litemaas_controller.ledger.sqlite.db import Db, audit


class SqliteOrders:
    """``Orders`` on SQLite; see ``ledger.store.Orders`` for the contract of each method.  The
    reads are ``OrderReads``, but ``newer_run_about`` (SQLite's JSON functions)."""

    def __init__(self, db: Db) -> None:
        self._db = db
        reads = OrderReads(db)
        self.get, self.list, self.count_by_status = reads.get, reads.list, reads.count_by_status
        self.namespace_holder, self.next_queued = reads.namespace_holder, reads.next_queued
        self.instances_with_queued = reads.instances_with_queued

    async def _changed(self, order_id: str) -> OrderRecord:
        return rows.existing(await self.get(order_id), "order", order_id)

    async def accept(self, order: NewOrder) -> tuple[OrderRecord, bool]:
        existing = await self._db.one("SELECT * FROM orders WHERE id=?", order.id)
        if existing is not None:
            return rows.duplicate(existing, order), False
        namespace = order.namespace
        if namespace is None:
            raise ValueError(f"order {order.id}: the intake decides the namespace first")
        await self._db.write(lambda db: _insert(db, order, namespace))
        return await self._changed(order.id), True

    async def retry(self, order_id: str, reason: str) -> OrderRecord:
        await self._db.write(lambda db: _retry(db, order_id, reason))
        return await self._changed(order_id)

    async def supersede(self, order_id: str, reason: str) -> OrderRecord:
        await self._db.write(lambda db: _supersede(db, order_id, reason))
        return await self._changed(order_id)

    async def newer_run_about(
        self, order: OrderRecord, actions: Collection[Action], field: str
    ) -> str | None:
        row = await self._db.one(
            "SELECT id FROM orders o WHERE instance=?"
            " AND action IN (SELECT value FROM json_each(?))"
            " AND seq > (SELECT seq FROM orders WHERE id=?)"
            " AND json_extract(vars, '$.' || ?) = ?"
            " AND EXISTS (SELECT 1 FROM runs WHERE order_id=o.id AND started_at IS NOT NULL)"
            " ORDER BY seq DESC LIMIT 1",
            order.instance, dumps([str(a) for a in actions]), order.id, field,
            order.vars.get(field),
        )  # fmt: skip
        return None if row is None else str(row["id"])


def _insert(db: sqlite3.Connection, order: NewOrder, namespace: str) -> None:
    now = time.time()
    status = OrderStatus.QUEUED if order.settled is None else OrderStatus.SUCCEEDED
    db.execute(
        "INSERT INTO orders (id, action, instance, namespace, vars, body, body_hash, status,"
        " source, principal, received_at, updated_at, message)"
        " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
        (order.id, order.action, order.instance, namespace, dumps(order.vars), order.body,
         rows.body_hash(order.body), status, order.source, order.principal, now, now,
         order.settled),
    )  # fmt: skip
    detail = {"action": order.action, "instance": order.instance}
    audit(db, "order.accepted", order.id, detail, actor=order.principal, source=order.source)
    if order.settled is not None:
        audit(db, "order.settled", order.id, {"reason": order.settled}, source=order.source)
        return  # nothing to run and nothing changes for the instance
    inst = db.execute("SELECT status FROM instances WHERE name=?", (order.instance,)).fetchone()
    if inst is None or inst["status"] == InstanceStatus.DESTROYED:
        db.execute(
            "INSERT OR REPLACE INTO instances (name, namespace, status, vars, results,"
            " last_order, updated_at) VALUES (?,?,?,?,?,?,?)",
            (order.instance, namespace, InstanceStatus.PENDING, "{}", None, order.id, now),
        )
    if order.action == Action.DESTROY:
        _superseded_by(db, order, now)


def _superseded_by(db: sqlite3.Connection, destroy: NewOrder, now: float) -> None:
    superseded = (Action.PROVISION, Action.UPDATE, Action.REPAIR)
    victims = db.execute(
        "SELECT id FROM orders WHERE instance=? AND status=? AND action IN (?,?,?) AND id!=?",
        (destroy.instance, OrderStatus.QUEUED, *superseded, destroy.id),
    ).fetchall()
    for (victim,) in victims:
        db.execute(
            "UPDATE orders SET status=?, message=?, updated_at=? WHERE id=?",
            (OrderStatus.SUPERSEDED, f"superseded by destroy order {destroy.id}", now, victim),
        )
        audit(db, "order.superseded", victim, {"by": destroy.id}, source=destroy.source)


def _retry(db: sqlite3.Connection, order_id: str, reason: str) -> None:
    # behind every order accepted so far: the next number of the orders' sequence
    changed = db.execute(
        "UPDATE orders SET status=?, message=?, updated_at=?, queue_seq=(SELECT seq + 1"
        " FROM sqlite_sequence WHERE name='orders')"
        " WHERE id=? AND status IN (?,?) AND pruned_at IS NULL",
        (OrderStatus.QUEUED, reason, time.time(), order_id, OrderStatus.FAILED,
         OrderStatus.CANCELLED),
    ).rowcount  # fmt: skip
    if changed:
        db.execute("UPDATE sqlite_sequence SET seq = seq + 1 WHERE name='orders'")
        audit(db, "order.retried", order_id, {"reason": reason})


def _supersede(db: sqlite3.Connection, order_id: str, reason: str) -> None:
    changed = db.execute(
        "UPDATE orders SET status=?, message=?, updated_at=? WHERE id=? AND status=?",
        (OrderStatus.SUPERSEDED, reason, time.time(), order_id, OrderStatus.QUEUED),
    ).rowcount
    if changed:
        audit(db, "order.superseded", order_id, {"reason": reason})
