"""The repair policy: a failed instance gets one repair order at a time, within a budget.

``RepairPolicy`` is a ``HealthSink`` that wraps the next one (the history): it forwards every
health it is given, and adds ``degraded`` when it stops repairing an instance (budget spent, or
the last repair refused to act).  docs/repair-policy.md is the reference.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
import uuid
from dataclasses import dataclass

from litemaas_controller.cluster import EventWriter
from litemaas_controller.config import Settings
from litemaas_controller.config.healing import parse_budget
from litemaas_controller.dispatch import Dispatcher
from litemaas_controller.errors import ConflictError, NotFoundError
from litemaas_controller.healing.budget import Spending, backoff, spending
from litemaas_controller.healing.metrics import RepairMetrics
from litemaas_controller.healing.model import Health, HealthSink, HealthStatus
from litemaas_controller.ledger import (
    Action,
    InstanceRecord,
    InstanceStatus,
    NewOrder,
    OrderRecord,
    OrderStatus,
    Store,
)
from litemaas_controller.ledger.models import is_permanent
from litemaas_controller.role.order_vars import PREFIX

log = logging.getLogger(__name__)

#: the principal of the repair orders the policy places
ACTOR = "controller:healing"
#: the source of those orders
SOURCE = "healing"
#: lifecycle statuses in which a person may ask for a repair (the policy repairs ready ones only)
ASKABLE = frozenset({InstanceStatus.READY, InstanceStatus.FAILED})


@dataclass(frozen=True)
class _Stop:
    """Stop repairing: the instance becomes degraded with ``reason``."""

    why: str  # budget | refused (the metric's label)
    event: str  # the Warning Event's reason
    reason: str


class RepairPolicy:
    def __init__(
        self,
        next: HealthSink,  # the contract's name: the sink this one wraps
        store: Store,
        dispatcher: Dispatcher,
        settings: Settings,
        events: EventWriter,
        metrics: RepairMetrics,
        rng: random.Random | None = None,
    ) -> None:
        self.next = next
        self._store = store
        self._dispatcher = dispatcher
        self._settings = settings
        self._budget = parse_budget(settings.repair_budget)
        self._events = events
        self._metrics = metrics
        self._rng = rng or random.Random()  # noqa: S311 (jitter, not a secret)
        self._lock = asyncio.Lock()
        #: when each instance's budget last started again (healthy, or a person asked)
        self._reset_at: dict[str, float] = {}
        self._degraded: dict[str, Health] = {}
        #: repairs waiting out their back-off, by instance
        self._due: dict[str, asyncio.Task[None]] = {}

    # --- the sink -------------------------------------------------------------------------------
    async def observed(self, instance: str, health: Health) -> None:
        if instance not in self._reset_at:
            await self._recall_reset(instance)
        await self.next.observed(instance, health)
        if health.status == HealthStatus.HEALTHY:
            self._reset(instance, health.since)
        elif health.status == HealthStatus.FAILED:
            await self._failed(instance, health)

    async def _failed(self, instance: str, health: Health) -> None:
        if (stopped := self._degraded.get(instance)) is not None:
            await self.next.observed(instance, stopped)  # still stopped: degraded stays last
            return
        if instance in self._due:
            return  # coalesced: a repair is already due after its back-off
        async with self._lock:
            await self._attempt(instance, health)

    async def _attempt(self, instance: str, health: Health) -> None:
        record = await self._store.instances.get(instance)
        if record is None or record.status != InstanceStatus.READY:
            log.info("instance %s failed (%s) but is not ready; no repair", instance, health.reason)
            return
        busy = await self._in_flight(instance)
        if busy is not None:
            log.info("instance %s failed; order %s of it is %s: no repair now", instance,
                     busy.id, busy.status)  # fmt: skip
            return
        now = time.time()
        spent = await self._spending(instance, now)
        stop = self._stop(spent, health)
        if stop is not None:
            await self._degrade(record, stop)
            return
        wait = self._wait(spent, now)
        if wait > 0:
            self._due[instance] = asyncio.create_task(
                self._after(wait, instance, health), name=f"repair-due:{instance}"
            )
            log.info("instance %s failed; repair in %.1fs (back-off)", instance, wait)
            return
        await self._order(record, ACTOR, SOURCE, health.reason)

    def _stop(self, spent: Spending, health: Health) -> _Stop | None:
        last = spent.last
        if last is not None and last.status == OrderStatus.FAILED and is_permanent(last.message):
            return _Stop(
                "refused",
                "RepairRefused",
                f"repair order {last.id} could not act safely and stopped: {last.message}",
            )
        if spent.left == 0:
            return _Stop(
                "budget",
                "RepairBudgetSpent",
                f"repair budget spent ({len(spent.repairs)} repairs within "
                f"{self._budget.window:g}s, the last {last.id if last else '-'} "
                f"{last.status if last else ''}); still failed: {health.reason}",
            )
        return None

    def _wait(self, spent: Spending, now: float) -> float:
        last = spent.last
        if last is None:
            return 0.0
        pause = backoff(len(spent.repairs), self._settings.repair_backoff,
                        self._settings.repair_backoff_max, self._rng)  # fmt: skip
        return last.updated_at + pause - now

    async def _after(self, delay: float, instance: str, health: Health) -> None:
        await asyncio.sleep(delay)
        async with self._lock:
            self._due.pop(instance, None)
            await self._attempt(instance, health)

    async def _degrade(self, record: InstanceRecord, stop: _Stop) -> None:
        health = Health(HealthStatus.DEGRADED, stop.reason, time.time())
        self._degraded[record.name] = health
        self._metrics.stopped.labels(stop.why).inc()
        self._metrics.degraded.set(len(self._degraded))
        log.warning("instance %s degraded: %s", record.name, stop.reason)
        await self._events.warning(record.namespace, record.name, stop.event, stop.reason)
        await self.next.observed(record.name, health)

    def _reset(self, instance: str, at: float) -> None:
        """The budget and back-off start again; a repair due is no longer needed."""
        self._reset_at[instance] = at
        if (due := self._due.pop(instance, None)) is not None:
            due.cancel()
        if self._degraded.pop(instance, None) is not None:
            self._metrics.degraded.set(len(self._degraded))

    # --- the ledger -----------------------------------------------------------------------------
    async def _recall_reset(self, instance: str) -> None:
        """First observation since the start: an instance the ledger last recorded healthy had
        its budget start again then (repairs before it healed count no more after a restart)."""
        current = await self._store.health.get(instance)
        if current is not None and current.status == HealthStatus.HEALTHY.value:
            self._reset_at[instance] = current.since

    async def _spending(self, instance: str, now: float) -> Spending:
        reset_at = self._reset_at.get(instance, 0.0)
        return await spending(self._store, instance, self._budget, now, reset_at)

    async def _in_flight(self, instance: str) -> OrderRecord | None:
        """The instance's order that is running, else its first queued one."""
        for run in await self._store.runs.unfinished():
            if run.instance == instance:
                order = await self._store.orders.get(run.order_id)
                if order is not None and order.status == OrderStatus.RUNNING:
                    return order
        return await self._store.orders.next_queued(instance)

    async def _order(
        self, record: InstanceRecord, principal: str, source: str, reason: str
    ) -> OrderRecord:
        order_id = f"repair:{record.name}:{uuid.uuid4().hex[:12]}"
        wait = {f"{PREFIX}repair_wait_timeout": self._settings.repair_wait_timeout}
        body = {"id": order_id, "action": "repair", "instance": record.name, "vars": wait}
        new = NewOrder(id=order_id, action=Action.REPAIR, instance=record.name,
                       namespace=record.namespace, vars=wait, body=json.dumps(body,
                       sort_keys=True), source=source, principal=principal)  # fmt: skip
        order, _ = await self._store.orders.accept(new)
        await self._store.audit.append(
            principal, "repair.ordered", order_id, source, {"reason": reason}
        )
        self._metrics.ordered.labels("health" if principal == ACTOR else "person").inc()
        log.info("repair order %s for instance %s: %s", order_id, record.name, reason)
        self._dispatcher.wake(record.name)
        return order

    # --- the faces ------------------------------------------------------------------------------
    async def request(self, instance: str, principal: str, source: str) -> tuple[OrderRecord, bool]:
        """A person asks for a repair: (the new order, True), or (the repair already queued or
        running, False).  The budget starts again, and a degraded instance is repaired again."""
        record = await self._store.instances.get(instance)
        if record is None:
            raise NotFoundError(f"instance {instance} does not exist")
        if record.status not in ASKABLE:
            raise ConflictError(
                f"instance {instance} is {record.status}: only a ready or failed instance can be "
                "repaired",
                details={"instance": instance, "lifecycle": record.status},
            )
        async with self._lock:
            busy = await self._in_flight(instance)
            if busy is not None and busy.action == Action.REPAIR:
                return busy, False
            if busy is not None:
                raise ConflictError(
                    f"order {busy.id} ({busy.action}) of instance {instance} is {busy.status}; "
                    "ask again once it has ended",
                    details={"instance": instance, "order": busy.id},
                )
            self._reset(instance, time.time())
            order = await self._order(record, principal, source, "asked by a person")
        return order, True

    async def budget(self, instance: str) -> dict[str, int]:
        """``repair_budget_left`` and ``repairs`` (counted in the window) for the instance view."""
        spent = await self._spending(instance, time.time())
        return {"repair_budget_left": spent.left, "repairs": len(spent.repairs)}

    async def close(self) -> None:
        """Drop the repairs waiting out their back-off (the next failed observation after a
        start orders them again), and forget what it kept per instance, as a restart does:
        also when this replica stops leading, since the next leader may act meanwhile."""
        self._reset_at.clear()
        if self._degraded:
            self._degraded.clear()
            self._metrics.degraded.set(0)
        due = list(self._due.values())
        self._due.clear()
        for task in due:
            task.cancel()
        await asyncio.gather(*due, return_exceptions=True)
