"""The last sink of the chain: health transitions written to the ledger as history.

It accepts every status, ``degraded`` too (the repair policy sets it through the same chain).
The ledger keeps a transition only when status or reason differ from the instance's current
health, so a restarted service that observes the same health again writes nothing.
"""

from __future__ import annotations

import logging

from litemaas_controller.healing.model import Health
from litemaas_controller.ledger import Store

log = logging.getLogger(__name__)


class HistoryRecorder:
    def __init__(self, store: Store) -> None:
        self._store = store

    async def observed(self, instance: str, health: Health) -> None:
        recorded = await self._store.health.record(
            instance, health.status.value, health.reason, health.since
        )
        if recorded is not None:
            log.info("instance %s is %s: %s", instance, health.status.value, health.reason)
