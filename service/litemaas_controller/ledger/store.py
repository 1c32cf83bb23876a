"""The store interface: the only way any layer reads or writes the ledger.

Kept narrow: two implementations provide it, SQLite in WAL mode (``ledger.sqlite``, the embedded
default) and PostgreSQL (``ledger.pg``, docs/ledger.md); ``ledger.opening`` picks one by URL.
Every write is one transaction: a crash leaves the ledger before or after it, never between.
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
    InstanceStatus,
    NewOrder,
    OrderRecord,
    OrderStatus,
    RunOutcome,
    RunRecord,
)


class Store(Protocol):
    @property
    def ledger_id(self) -> str:
        """A random id fixed when the ledger was created (tags the processes of its runs)."""
        ...

    # --- orders ---------------------------------------------------------------------------------
    async def accept_order(self, order: NewOrder) -> tuple[OrderRecord, bool]:
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

    async def retry_order(self, order_id: str, reason: str) -> OrderRecord:
        """Put a failed or cancelled order back in the queue (a redelivered message retries it).

        An order in any other status is returned unchanged.
        """
        ...

    async def supersede_order(self, order_id: str, reason: str) -> OrderRecord:
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

    async def get_order(self, order_id: str) -> OrderRecord | None: ...

    async def list_orders(
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

    async def next_queued_order(self, instance: str) -> OrderRecord | None:
        """The instance's first queued order: orders run in arrival order, a retried order
        from where it was queued again."""
        ...

    async def instances_with_queued_orders(self) -> Sequence[str]: ...

    async def count_orders_by_status(self) -> dict[OrderStatus, int]: ...

    # --- runs -----------------------------------------------------------------------------------
    async def create_run(
        self, order_id: str, playbook: str, extravars: dict[str, Any]
    ) -> RunRecord:
        """A queued run of ``order_id`` (attempt = previous attempts + 1)."""
        ...

    async def start_run(
        self, run_id: str, instance_status: InstanceStatus, instance_vars: dict[str, Any]
    ) -> RunRecord:
        """Mark the run and its order running; record ``instance_vars`` on the instance."""
        ...

    async def record_process(self, run_id: str, pid: int, pid_start: int) -> None:
        """Remember the run's leading process (and its start time, against PID reuse)."""
        ...

    async def finish_run(self, run_id: str, outcome: RunOutcome) -> RunRecord: ...

    async def requeue_run(self, run_id: str, status: str, reason: str) -> RunRecord:
        """End an interrupted run with ``status`` and put its order back in the queue."""
        ...

    async def get_run(self, run_id: str) -> RunRecord | None: ...

    async def list_runs(
        self, *, order_id: str | None = None, limit: int = 100, before: int | None = None
    ) -> Sequence[RunRecord]:
        """Newest first; ``before``: only those older than that seq (the next page)."""
        ...

    async def unfinished_runs(self) -> Sequence[RunRecord]:
        """Runs queued or running: after a restart, none of them is owned by anyone."""
        ...

    async def append_events(self, events: Iterable[EventRecord]) -> None: ...

    async def events_after(
        self, run_id: str, after: int, limit: int = 500
    ) -> Sequence[EventRecord]: ...

    # --- instances and audit --------------------------------------------------------------------
    async def get_instance(self, name: str) -> InstanceRecord | None: ...

    async def list_instances(
        self, *, after: str = "", limit: int = -1
    ) -> Sequence[InstanceRecord]: ...

    async def audit(
        self, actor: str, action: str, subject: str, source: str, detail: dict[str, Any]
    ) -> None: ...

    async def list_audit(
        self, *, subject: str | None = None, after: int = 0, limit: int = -1
    ) -> Sequence[AuditRecord]: ...

    # --- health (the cluster watch's observations) ----------------------------------------------
    async def record_health(
        self, instance: str, status: str, reason: str, since: float
    ) -> HealthRecord | None:
        """Append a health transition; None (nothing written) when the instance's current health
        already has this status and reason."""
        ...

    async def get_health(self, instance: str) -> HealthRecord | None:
        """The instance's current health: its newest transition."""
        ...

    async def health_history(
        self, instance: str, after: int = 0, limit: int = 100
    ) -> Sequence[HealthRecord]:
        """The instance's transitions with ``seq`` above ``after``, oldest first."""
        ...

    async def count_health_by_status(self) -> dict[str, int]:
        """Instances not destroyed, by current health status."""
        ...

    # --- retention and dead letters -------------------------------------------------------------
    async def prune(self, cutoffs: Cutoffs) -> dict[str, int]:
        """Remove what ended before each cutoff (see ``Cutoffs``); return how many of each."""
        ...

    async def record_dead_letter(self, entry: str, message_id: str | None, kind: str) -> None:
        """Remember that stream entry ``entry`` (``stream/id``) was given up as a dead letter."""
        ...

    async def dead_lettered(self, entry: str) -> bool:
        """Was ``entry`` given up (kept as long as tombstones)?  A re-read never runs it."""
        ...

    async def list_dead_letters(
        self, *, limit: int = 100, before: int | None = None
    ) -> Sequence[DeadLetterRecord]:
        """The marks of the entries given up, newest first; ``before``: older than that seq."""
        ...

    # --- change notification and life cycle -----------------------------------------------------
    async def wait_changed(self, timeout: float) -> bool:
        """Return True when anything was written, False after ``timeout`` seconds without."""
        ...

    async def close(self) -> None: ...
