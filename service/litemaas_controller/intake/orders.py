"""Order intake: a raw body becomes a validated order in the ledger, and dispatch is woken.

Validation and the ownership rules (``intake.ownership``) are decided entirely before the ledger
is touched: a refused order changes nothing.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from typing import Any

from litemaas_controller.cluster import NamespaceReader
from litemaas_controller.dispatch import Dispatcher
from litemaas_controller.intake import ownership
from litemaas_controller.intake.order_check import OrderCheck, canonical
from litemaas_controller.ledger import Action, NewOrder, OrderRecord, OrderStatus, Store
from litemaas_controller.role.order_vars import OrderVars

log = logging.getLogger(__name__)


class OrderIntake:
    """Accepts orders for every face that takes them (HTTP now; later message intakes)."""

    def __init__(
        self,
        store: Store,
        dispatcher: Dispatcher,
        order_vars: OrderVars,
        namespaces: NamespaceReader,
    ) -> None:
        self._store = store
        self._dispatcher = dispatcher
        self._namespaces = namespaces
        # what the rules read and what is then written stay one step (a namespace read yields)
        self._admitting = asyncio.Lock()
        self._check = OrderCheck(order_vars)

    @property
    def schema(self) -> dict[str, Any]:
        return self._check.schema

    async def submit(self, body: bytes, *, principal: str, source: str) -> tuple[OrderRecord, bool]:
        """Accept ``body``: (record, True) for a new order, (record, False) for a duplicate."""
        doc = self._check.check(body)
        order = NewOrder(
            id=doc["id"],
            action=Action(doc["action"]),
            instance=doc["instance"],
            namespace=doc.get("namespace"),
            vars=dict(doc.get("vars", {})),
            body=canonical(doc),
            source=source,
            principal=principal,
        )
        return await self.accept(order)

    @property
    def store(self) -> Store:
        """The ledger, for intakes that follow their orders to the end (messages are acked then)."""
        return self._store

    async def accept(self, order: NewOrder) -> tuple[OrderRecord, bool]:
        """Put an order that passed its intake's validation in the ledger; wake dispatch.

        A known id is answered by the ledger's dedupe alone (a retry is judged by its body, not
        by what happened since); a new one must pass the ownership rules first.
        """
        async with self._admitting:
            if await self._store.orders.get(order.id) is None:
                order = await self._admit(order)
            record, created = await self._store.orders.accept(order)
        if created and order.settled is not None:
            log.info("order %s accepted, nothing to run: %s", order.id, order.settled)
        elif created:
            log.info("order %s accepted: %s %s", order.id, order.action, order.instance)
            self._dispatcher.wake(order.instance)
        else:
            log.info("order %s is a duplicate; answered with its record", order.id)
        return record, created

    async def _admit(self, order: NewOrder) -> NewOrder:
        """``order`` with its namespace decided; ``ConflictError`` when the rules refuse it."""
        instance = await self._store.instances.get(order.instance)
        admission = ownership.admit(order, instance)
        if admission.settled is None:
            holder = await self._store.orders.namespace_holder(admission.namespace)
            ownership.check_namespace_free(order, admission.namespace, holder)
        if ownership.explicit_first_namespace(order, instance):
            labels = await self._namespaces.labels(admission.namespace)
            ownership.check_namespace_labels(order, admission.namespace, labels)
        return replace(order, namespace=admission.namespace, settled=admission.settled)

    async def retry(self, order_id: str, reason: str) -> OrderRecord:
        """Queue a failed order again (a message delivered again after its run failed)."""
        record = await self._store.orders.retry(order_id, reason)
        if record.status == OrderStatus.QUEUED:
            self._dispatcher.wake(record.instance)
        return record
