"""What runs only while this replica leads: the cluster watch, and with it the repair policy's
automatic repairs (docs/replicas.md).

With a PostgreSQL ledger the replicas elect a leader on the Lease ``litemaas-controller``
(``cluster.leader``); with SQLite there is one replica, which always leads and needs no Lease.
Each time this replica starts leading, the led intake is built afresh (the watch lists, then
watches); when it stops leading, the intake is cancelled and ``on_lost`` runs (the policy drops
the repairs waiting out a back-off).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

from prometheus_client import CollectorRegistry, Counter, Gauge

from litemaas_controller.cluster import KubeClient
from litemaas_controller.cluster.leader import Elector, Observer, Timings, Work
from litemaas_controller.config import Settings
from litemaas_controller.intake.base import Intake, IntakeFactory
from litemaas_controller.intake.orders import OrderIntake


class Leadership(Protocol):
    identity: str
    leads: bool

    @property
    def holder(self) -> str | None: ...

    async def run(self, work: Work) -> None: ...


class LeaderMetrics:
    """``Observer``: whether this replica leads, and how often that changed."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.leader = Gauge(
            "litemaas_leader",
            "1 while this replica leads (runs the cluster watch and automatic repairs), else 0",
            registry=registry,
        )
        self.changes = Counter(
            "litemaas_leader_changes",
            "Times this replica started or stopped leading",
            registry=registry,
        )

    def leading(self, now: bool) -> None:
        self.leader.set(1 if now else 0)
        self.changes.inc()


class Sole:
    """The one replica of a SQLite ledger: it leads from start to end, without a Lease."""

    def __init__(self, identity: str, observer: Observer) -> None:
        self.identity = identity
        self.leads = False
        self._observer = observer

    @property
    def holder(self) -> str | None:
        return self.identity

    async def run(self, work: Work) -> None:
        self.leads = True
        self._observer.leading(True)
        try:
            await work()
        finally:
            self.leads = False
            self._observer.leading(False)


def leadership(settings: Settings, kube: KubeClient, observer: Observer) -> Leadership:
    """An election on the Lease with a shared (PostgreSQL) ledger, else the sole replica."""
    if not settings.shared_ledger or settings.namespace is None:
        return Sole(settings.replica, observer)
    timings = Timings(settings.leader_lease_duration, settings.leader_renew_deadline,
                      settings.leader_retry_period)  # fmt: skip
    return Elector(kube, settings.namespace, settings.replica, timings, observer)


class Led:
    """``Intake``: runs a fresh ``make()`` while ``leader`` leads."""

    def __init__(self, name: str, leader: Leadership, make: Callable[[], Intake],
                 on_lost: Callable[[], Awaitable[None]]) -> None:  # fmt: skip
        self.name = name
        self._leader = leader
        self._make = make
        self._on_lost = on_lost

    async def run(self) -> None:
        await self._leader.run(self._work)

    async def _work(self) -> None:
        try:
            await self._make().run()
        finally:
            await self._on_lost()


def led(name: str, leader: Leadership, make: IntakeFactory,
        on_lost: Callable[[], Awaitable[None]]) -> IntakeFactory:  # fmt: skip
    """``make``'s intake (called ``name``), run only while ``leader`` leads."""

    def factory(orders: OrderIntake) -> Led:
        return Led(name, leader, lambda: make(orders), on_lost)

    return factory
