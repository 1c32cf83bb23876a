"""The health of one instance, as observed, and the seam its observers and policy share.

Health is separate from an instance's lifecycle ``status``: it says whether what runs in the
cluster is whole, not where the instance is in its orders.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol


class HealthStatus(StrEnum):
    #: every object of the instance is as the role left it and ready
    HEALTHY = "healthy"
    #: a rollout, a pod its controller is already replacing, or a run of the instance in flight
    PROGRESSING = "progressing"
    #: broken, and the controller is repairing it or will
    FAILED = "failed"
    #: broken, and the controller has stopped (budget spent, a repair refused): a person must look
    DEGRADED = "degraded"


@dataclass(frozen=True)
class Health:
    status: HealthStatus
    #: what a person can act on: which object, in what state (empty when healthy)
    reason: str
    #: when this status began (seconds since the epoch)
    since: float


class HealthSink(Protocol):
    """Receives an instance's health each time its status or reason changes.

    The watch's health model is the source; the history recorder and the repair policy are sinks
    (the policy wraps the recorder: it forwards what it is given and adds ``degraded``)."""

    async def observed(self, instance: str, health: Health) -> None: ...
