"""The repair budget and back-off of one instance, read from the ledger's repair orders.

Nothing lives only in memory but the last reset (a healthy observation, a person's request): a
restart takes it back from the ledger's health history when the instance was last recorded healthy,
else the budget counts every repair in the window.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from litemaas_controller.config.healing import RepairBudget
from litemaas_controller.ledger import Action, OrderRecord, Store

#: the ledger is asked for at most this many recent orders of the instance (far above a budget)
_RECENT = 1000


@dataclass(frozen=True)
class Spending:
    """The repairs counted against the budget, newest first, and how many are left."""

    repairs: list[OrderRecord]
    left: int

    @property
    def last(self) -> OrderRecord | None:
        return self.repairs[0] if self.repairs else None


async def spending(
    store: Store, instance: str, budget: RepairBudget, now: float, reset_at: float
) -> Spending:
    """The instance's repair orders (whoever asked) received within the budget's window and
    after ``reset_at``."""
    since = max(now - budget.window, reset_at)
    recent = await store.orders.list(instance=instance, limit=_RECENT)
    repairs = [o for o in recent if o.action == Action.REPAIR and o.received_at >= since]
    return Spending(repairs, max(0, budget.attempts - len(repairs)))


def backoff(done: int, base: float, ceiling: float, rng: random.Random) -> float:
    """Seconds to wait after the ``done``-th repair (1, 2...) before the next: ``base`` doubled
    each time up to ``ceiling``, less a random part of up to a half (repairs of many instances
    broken by one cause do not all start at once)."""
    full = min(ceiling, base * 2 ** max(0, done - 1))
    return rng.uniform(full / 2, full)
