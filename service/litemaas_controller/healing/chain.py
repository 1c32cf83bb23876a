"""The sink chain the watch feeds, by ``LITEMAAS_HEALING`` mode."""

from __future__ import annotations

import logging

from litemaas_controller.config.healing import HealingMode
from litemaas_controller.healing.model import Health, HealthSink
from litemaas_controller.healing.policy import RepairPolicy

log = logging.getLogger(__name__)


class HealthLog:
    """A sink that logs each health it is given (the end of the chain when nothing records)."""

    async def observed(self, instance: str, health: Health) -> None:
        log.info("instance %s is %s: %s", instance, health.status, health.reason or "-")


def sink_chain(mode: HealingMode, policy: RepairPolicy) -> HealthSink | None:
    """What the watch feeds: the policy (which wraps the history) in ``repair`` mode, the
    history alone in ``observe`` mode (no repair unless a person asks), nothing in ``off`` mode
    (the watch is not started)."""
    if mode == HealingMode.OFF:
        return None
    return policy if mode == HealingMode.REPAIR else policy.next
