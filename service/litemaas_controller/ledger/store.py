"""The store interface: the only way any layer reads or writes the ledger.

A ``Store`` is composed of table gateways, one per concern (``store.orders``, ``store.runs``,
``store.events``, ``store.health``, ``store.dead_letters``, ``store.instances``,
``store.audit``), each with a Protocol here.  Two implementations provide them, SQLite in WAL
mode (``ledger.sqlite``, the embedded default) and PostgreSQL (``ledger.pg``, docs/ledger.md);
``ledger.opening`` picks one by URL.  Every write is one transaction, also when it touches other
tables than its gateway's (a finished run updates its order and instance and the audit trail): a
crash leaves the ledger before or after it, never between.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from typing import Any, Protocol

from litemaas_controller.ledger.models import (
    Action,
    AuditRecord,
    Cutoffs,
    DeadLetterRecord,
    EventRecord,
    HealthRecord,
    InstanceRecord,
    Lease,
    NewOrder,
    OrderRecord,
    OrderStatus,
    RunOutcome,
    RunRecord,
    RunStart,
)


class Orders(Protocol):
    """Orders: acceptance (dedupe, supersede) and the queue."""

    async def accept(self, order: NewOrder) -> tuple[OrderRecord, bool]:
        """Insert ``order`` (True) or return the one with the same id and body (False).

        Raises ``ConflictError`` for the same id with another body (compared by the body's hash,
        which outlives a pruned body).  A new order needs the namespace the intake decided; one
        the intake ``settled`` is recorded succeeded, and nothing runs.  A destroy supersedes the
        instance's queued provisions, updates and repairs.
        """
        ...

    async def namespace_holder(self, namespace: str) -> str | None:
        """The instance the ledger has live (not destroyed) in ``namespace``, if any."""
        ...

    async def retry(self, order_id: str, reason: str) -> OrderRecord:
        """Put a failed or cancelled order back in the queue (a redelivered message retries it).

        An order in any other status is returned unchanged.
        """
        ...

    async def supersede(self, order_id: str, reason: str) -> OrderRecord:
        """Mark a queued order superseded (it will not run) with ``reason``; other statuses are
        returned unchanged."""
        ...

    async def newer_run_about(
        self, order: OrderRecord, actions: Collection[Action], field: str
    ) -> str | None:
        """The id of an order of ``order``'s instance accepted after it, of one of ``actions``,
        whose vars have the same ``field`` value, that has started a run; None when there is
        none."""
        ...

    async def get(self, order_id: str) -> OrderRecord | None: ...

    async def list(
        self,
        *,
        instance: str | None = None,
        limit: int = 100,
        before: int | None = None,
        status: str | None = None,
    ) -> Sequence[OrderRecord]:
        """Newest first; ``before``: only those older than that seq (the next page); ``status``:
        only orders in it."""
        ...

    async def next_queued(self, instance: str) -> OrderRecord | None:
        """The instance's first queued order: orders run in arrival order, a retried order
        from where it was queued again."""
        ...

    async def instances_with_queued(self) -> Sequence[str]:
        """Instances with a queued order and no unfinished run: those a worker could start now,
        oldest queued first."""
        ...

    async def count_by_status(self) -> dict[OrderStatus, int]: ...


class Runs(Protocol):
    """Runs of orders; claiming and finishing one updates its order and instance too.

    A run belongs to the replica that claimed it, through a lease it renews; every write about
    the run carries the claim's fencing token and applies only while the run, unfinished, still
    carries it (``token`` None: a run from before tokens existed).  A refused write raises
    ``FencedError`` and keeps nothing: another replica took the run over.
    """

    async def claim(
        self, order_id: str, start: RunStart, owner: str, lease: float
    ) -> RunRecord | None:
        """One transaction: the order's run, already running, owned by ``owner`` with a new
        token and a lease of ``lease`` s on the ledger's clock; the order running, the instance
        as ``start`` says.  Only when the order is queued, first in its instance's queue, and
        the instance has no unfinished run; None (nothing written) when someone else has it."""
        ...

    async def renew(self, run_id: str, token: int | None, lease: float) -> Lease:
        """Extend the lease by ``lease`` s: LOST when the run ended or no longer carries
        ``token``, CANCEL when a cancel was requested, else HELD."""
        ...

    async def request_cancel(self, run_id: str) -> RunRecord:
        """Ask the owner of an unfinished run to cancel it (at its next renewal)."""
        ...

    async def record_process(
        self, run_id: str, pid: int, pid_start: int, *, token: int | None
    ) -> None:
        """Remember the run's leading process (and its start time, against PID reuse)."""
        ...

    async def finish(self, run_id: str, outcome: RunOutcome, *, token: int | None) -> RunRecord: ...

    async def requeue(
        self, run_id: str, status: str, reason: str, *, token: int | None
    ) -> RunRecord:
        """End an interrupted run with ``status`` and put its order back in the queue."""
        ...

    async def get(self, run_id: str) -> RunRecord | None: ...

    async def list(
        self, *, order_id: str | None = None, limit: int = 100, before: int | None = None
    ) -> Sequence[RunRecord]:
        """Newest first; ``before``: only those older than that seq (the next page)."""
        ...

    async def unfinished(self) -> Sequence[RunRecord]:
        """Runs queued or running, whichever replica owns them."""
        ...

    async def owned(self, owner: str) -> Sequence[RunRecord]:
        """Unfinished runs of ``owner`` and those without an owner (from before replicas
        shared a ledger): what ``owner``'s start-up recovery closes."""
        ...

    async def expired(self) -> Sequence[RunRecord]:
        """Unfinished runs whose lease has run out on the ledger's clock (their replica died
        or stalled): the sweeper closes them, with the token it read."""
        ...


class Events(Protocol):
    """The runs' events, each kept once (by run and seq)."""

    async def append(
        self, events: Iterable[EventRecord], *, token: int | None, run_id: str
    ) -> bool:
        """Keep the events of ``run_id``; False (nothing kept) when the run ended or no longer
        carries ``token``."""
        ...

    async def after(self, run_id: str, after: int, limit: int = 500) -> Sequence[EventRecord]: ...


class Health(Protocol):
    """The instances' observed health transitions (the cluster watch's observations)."""

    async def record(
        self, instance: str, status: str, reason: str, since: float
    ) -> HealthRecord | None:
        """Append a health transition; None (nothing written) when the instance's current health
        already has this status and reason."""
        ...

    async def get(self, instance: str) -> HealthRecord | None:
        """The instance's current health: its newest transition."""
        ...

    async def history(
        self, instance: str, after: int = 0, limit: int = 100
    ) -> Sequence[HealthRecord]:
        """The instance's transitions with ``seq`` above ``after``, oldest first."""
        ...

    async def count_by_status(self) -> dict[str, int]:
        """Instances not destroyed, by current health status."""
        ...


class DeadLetters(Protocol):
    """The marks of the stream entries given up as dead letters."""

    async def record(self, entry: str, message_id: str | None, kind: str) -> None:
        """Remember that stream entry ``entry`` (``stream/id``) was given up as a dead letter."""
        ...

    async def is_dead(self, entry: str) -> bool:
        """Was ``entry`` given up (kept as long as tombstones)?  A re-read never runs it."""
        ...

    async def list(
        self, *, limit: int = 100, before: int | None = None
    ) -> Sequence[DeadLetterRecord]:
        """The marks of the entries given up, newest first; ``before``: older than that seq."""
        ...


class Instances(Protocol):
    """The instances, as the orders and runs left them."""

    async def get(self, name: str) -> InstanceRecord | None: ...

    async def list(self, *, after: str = "", limit: int = -1) -> Sequence[InstanceRecord]:
        """By name, those after ``after``; at most ``limit`` (-1: all)."""
        ...


class Audit(Protocol):
    """The audit trail: append-only (retention alone removes what is old enough)."""

    async def append(
        self, actor: str, action: str, subject: str, source: str, detail: dict[str, Any]
    ) -> None: ...

    async def list(
        self, *, subject: str | None = None, after: int = 0, limit: int = -1
    ) -> Sequence[AuditRecord]:
        """Oldest first, those after the seq ``after``; at most ``limit`` (-1: all)."""
        ...


class Store(Protocol):
    """The ledger: its gateways, and what concerns all of it."""

    @property
    def orders(self) -> Orders: ...
    @property
    def runs(self) -> Runs: ...
    @property
    def events(self) -> Events: ...
    @property
    def health(self) -> Health: ...
    @property
    def dead_letters(self) -> DeadLetters: ...
    @property
    def instances(self) -> Instances: ...
    @property
    def audit(self) -> Audit: ...

    @property
    def ledger_id(self) -> str:
        """A random id fixed when the ledger was created (tags the processes of its runs)."""
        ...

    async def prune(self, cutoffs: Cutoffs) -> dict[str, int]:
        """Remove what ended before each cutoff (see ``Cutoffs``); return how many of each."""
        ...

    async def wait_changed(self, timeout: float) -> bool:
        """Return True when anything was written (on PostgreSQL: by any replica), False after
        ``timeout`` seconds without (the caller polls then)."""
        ...

    @property
    def reachable(self) -> bool:
        """False from a call that found the ledger unreachable until one succeeds again (on
        SQLite: always True); nothing new starts meanwhile."""
        ...

    async def close(self) -> None: ...
