"""Each instance's observed health: verdicts held to the grace before a failure counts.

The watch hands every verdict here; the sink hears of each change of status or reason.  A
failure counts once it has lasted ``grace`` seconds; until then the instance keeps the health it
had (a pod starting, a probe failing once, is not worth a transition), and the caller is told
when to look again.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from litemaas_controller.healing.assess import Verdict
from litemaas_controller.healing.model import Health, HealthSink, HealthStatus


class HealthModel:
    def __init__(
        self, sink: HealthSink, grace: float, clock: Callable[[], float] = time.time
    ) -> None:
        self._sink = sink
        self._grace = grace
        self._clock = clock
        self._current: dict[str, Health] = {}
        self._failing_since: dict[str, float] = {}

    async def judge(self, instance: str, verdict: Verdict) -> float | None:
        """Take the instance's latest verdict; return when (clock time) to judge it again (a
        failure's grace ends, or the verdict's own ``recheck``), or None."""
        now = self._clock()
        if verdict.status != HealthStatus.FAILED:
            self._failing_since.pop(instance, None)
            await self._report(instance, verdict, now)
            return verdict.recheck
        since = self._failing_since.setdefault(instance, now)
        if now - since < self._grace:
            return min(since + self._grace, verdict.recheck or since + self._grace)
        await self._report(instance, verdict, since)
        return verdict.recheck

    async def _report(self, instance: str, verdict: Verdict, since: float) -> None:
        current = self._current.get(instance)
        if current is not None and (current.status, current.reason) == (
            verdict.status,
            verdict.reason,
        ):
            return
        if current is not None and current.status == verdict.status:
            since = current.since  # the same status with another reason: it began back then
        health = Health(verdict.status, verdict.reason, since)
        await self._sink.observed(instance, health)
        self._current[instance] = health

    def forget(self, instance: str) -> None:
        """The instance is gone from the ledger (destroyed): nothing more to say about it."""
        self._current.pop(instance, None)
        self._failing_since.pop(instance, None)
