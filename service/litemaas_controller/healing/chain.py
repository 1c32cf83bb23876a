"""The sink chain the watch feeds, by ``LITEMAAS_HEALING`` mode."""

from __future__ import annotations

from litemaas_controller.config.healing import HealingMode
from litemaas_controller.healing.model import HealthSink
from litemaas_controller.healing.policy import RepairPolicy


def sink_chain(mode: HealingMode, policy: RepairPolicy) -> HealthSink:
    """What the watch feeds (in ``off`` mode it is not started): the policy, which wraps the
    history recorder, in ``repair`` mode; the recorder alone in ``observe`` mode (no repair
    unless a person asks)."""
    return policy if mode == HealingMode.REPAIR else policy.next
