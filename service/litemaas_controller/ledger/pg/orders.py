"""The PostgreSQL ledger's orders: acceptance (dedupe, supersede) and the queue.

The same rules as ``sqlite.orders``; what differs is PostgreSQL's: upserts by ``ON CONFLICT``, a
retried order's place from the orders' own sequence, the vars compared as ``jsonb``.
"""

from __future__ import annotations

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
from litemaas_controller.ledger.pg.db import Conn, Db, audit
from litemaas_controller.ledger.reads import OrderReads
from litemaas_controller.ledger.rows import dumps

_SUPERSEDED_BY_DESTROY = [str(a) for a in (Action.PROVISION, Action.UPDATE, Action.REPAIR)]


class PgOrders:
    """``Orders`` on PostgreSQL; see ``ledger.store.Orders`` for the contract of each method.
    The reads are ``OrderReads``, but ``newer_run_about`` (``jsonb``)."""

    def __init__(self, db: Db) -> None:
        self._db = db
        reads = OrderReads(db)
        self.get, self.list, self.count_by_status = reads.get, reads.list, reads.count_by_status
        self.namespace_holder, self.next_queued = reads.namespace_holder, reads.next_queued
        self.instances_with_queued = reads.instances_with_queued

    async def _changed(self, order_id: str) -> OrderRecord:
        return rows.existing(await self.get(order_id), "order", order_id)

    async def accept(self, order: NewOrder) -> tuple[OrderRecord, bool]:
        existing = await self.get(order.id)
        if existing is None:
            if order.namespace is None:
                raise ValueError(f"order {order.id}: the intake decides the namespace first")
            async with self._db.tx() as db:
                created = await _insert(db, order, order.namespace)
            if created:
                return await self._changed(order.id), True
        row = await self._db.one("SELECT * FROM orders WHERE id=%s", order.id)
        assert row is not None
        return rows.duplicate(row, order), False

    async def retry(self, order_id: str, reason: str) -> OrderRecord:
        async with self._db.tx() as db:
            # behind every order accepted so far: the next number of the orders' sequence
            cur = await db.execute(
                "UPDATE orders SET status=%s, message=%s, updated_at=%s,"
                " queue_seq=nextval(pg_get_serial_sequence('orders', 'seq'))"
                " WHERE id=%s AND status IN (%s,%s) AND pruned_at IS NULL",
                (OrderStatus.QUEUED, reason, time.time(), order_id, OrderStatus.FAILED,
                 OrderStatus.CANCELLED),
            )  # fmt: skip
            if cur.rowcount:
                await audit(db, "order.retried", order_id, {"reason": reason})
        return await self._changed(order_id)

    async def supersede(self, order_id: str, reason: str) -> OrderRecord:
        async with self._db.tx() as db:
            cur = await db.execute(
                "UPDATE orders SET status=%s, message=%s, updated_at=%s WHERE id=%s AND status=%s",
                (OrderStatus.SUPERSEDED, reason, time.time(), order_id, OrderStatus.QUEUED),
            )
            if cur.rowcount:
                await audit(db, "order.superseded", order_id, {"reason": reason})
        return await self._changed(order_id)

    async def newer_run_about(
        self, order: OrderRecord, actions: Collection[Action], field: str
    ) -> str | None:
        value = order.vars.get(field)
        row = await self._db.one(
            "SELECT id FROM orders o WHERE instance=%s AND action=ANY(%s)"
            " AND seq > (SELECT seq FROM orders WHERE id=%s)"
            " AND (vars::jsonb -> %s) = %s::jsonb"
            " AND EXISTS (SELECT 1 FROM runs WHERE order_id=o.id AND started_at IS NOT NULL)"
            " ORDER BY seq DESC LIMIT 1",
            order.instance, [str(a) for a in actions], order.id, field,
            None if value is None else dumps(value),
        )  # fmt: skip
        return None if row is None else str(row["id"])


async def _insert(db: Conn, order: NewOrder, namespace: str) -> bool:
    """Insert the order; False when one with its id is already there."""
    now = time.time()
    status = OrderStatus.QUEUED if order.settled is None else OrderStatus.SUCCEEDED
    cur = await db.execute(
        "INSERT INTO orders (id, action, instance, namespace, vars, body, body_hash, status,"
        " source, principal, received_at, updated_at, message)"
        " VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s) ON CONFLICT (id) DO NOTHING",
        (order.id, order.action, order.instance, namespace, dumps(order.vars), order.body,
         rows.body_hash(order.body), status, order.source, order.principal, now, now,
         order.settled),
    )  # fmt: skip
    if not cur.rowcount:
        return False
    detail = {"action": order.action, "instance": order.instance}
    await audit(db, "order.accepted", order.id, detail, actor=order.principal, source=order.source)
    if order.settled is not None:
        await audit(db, "order.settled", order.id, {"reason": order.settled}, source=order.source)
        return True  # nothing to run and nothing changes for the instance
    await db.execute(
        "INSERT INTO instances (name, namespace, status, vars, results, last_order, updated_at)"
        " VALUES (%s,%s,%s,'{}',NULL,%s,%s) ON CONFLICT (name) DO UPDATE SET"
        " namespace=excluded.namespace, status=excluded.status, vars=excluded.vars,"
        " results=NULL, last_order=excluded.last_order, updated_at=excluded.updated_at"
        " WHERE instances.status=%s",
        (order.instance, namespace, InstanceStatus.PENDING, order.id, now,
         InstanceStatus.DESTROYED),
    )  # fmt: skip
    if order.action == Action.DESTROY:
        await _superseded_by(db, order, now)
    return True


async def _superseded_by(db: Conn, destroy: NewOrder, now: float) -> None:
    cur = await db.execute(
        "UPDATE orders SET status=%s, message=%s, updated_at=%s WHERE instance=%s"
        " AND status=%s AND action=ANY(%s) AND id!=%s RETURNING id",
        (OrderStatus.SUPERSEDED, f"superseded by destroy order {destroy.id}", now,
         destroy.instance, OrderStatus.QUEUED, _SUPERSEDED_BY_DESTROY, destroy.id),
    )  # fmt: skip
    for victim in [r["id"] for r in await cur.fetchall()]:
        await audit(db, "order.superseded", victim, {"by": destroy.id}, source=destroy.source)
