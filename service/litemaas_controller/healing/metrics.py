"""The repair policy's metrics: repairs ordered and how they ended, instances it gave up on."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge

from litemaas_controller.ledger import Action, RunRecord
from litemaas_controller.ledger.models import is_permanent


class RepairMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.ordered = Counter(
            "litemaas_repair_orders",
            "Repair orders by trigger (health: the policy, person: POST .../repair)",
            ["trigger"],
            registry=registry,
        )
        self.outcomes = Counter(
            "litemaas_repairs",
            "Finished repair runs by outcome (succeeded, failed, timeout, cancelled, refused: a "
            "permanent failure, the repair could not act safely)",
            ["outcome"],
            registry=registry,
        )
        self.stopped = Counter(
            "litemaas_repairs_stopped",
            "Times the policy stopped repairing an instance (budget spent, repair refused)",
            ["why"],
            registry=registry,
        )
        self.degraded = Gauge(
            "litemaas_instances_degraded",
            "Instances the policy has stopped repairing until the fault clears or a person asks",
            registry=registry,
        )

    def observe_run(self, run: RunRecord) -> None:
        """A dispatcher observer: count each finished repair run by its outcome."""
        if run.action == Action.REPAIR:
            outcome = "refused" if is_permanent(run.reason) else run.status.value
            self.outcomes.labels(outcome).inc()
