"""Prometheus metrics: orders by status, run durations, queue depth, runs in flight, instances by
health (the cluster watch adds its restarts and relists to the same registry).

One registry per application (no module-level singletons).  Labels never carry an order payload,
an order id or anything secret: only statuses, actions and HTTP answers.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from litemaas_controller.healing.metrics import RepairMetrics
from litemaas_controller.healing.model import HealthStatus
from litemaas_controller.ledger import OrderStatus, RunRecord, Store

_BUCKETS = (1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, float("inf"))


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.orders = Gauge(
            "litemaas_orders", "Orders in the ledger by status", ["status"], registry=self.registry
        )
        self.intake = Counter(
            "litemaas_order_requests",
            "Order requests by answer (accepted, duplicate, refused with a code)",
            ["answer"],
            registry=self.registry,
        )
        self.queue_depth = Gauge(
            "litemaas_queue_depth", "Orders waiting to run", registry=self.registry
        )
        self.in_flight = Gauge(
            "litemaas_runs_in_flight", "Playbook runs in flight", registry=self.registry
        )
        self.run_seconds = Histogram(
            "litemaas_run_duration_seconds",
            "Duration of finished playbook runs",
            ["action", "status"],
            buckets=_BUCKETS,
            registry=self.registry,
        )
        self.health = Gauge(
            "litemaas_instances_by_health",
            "Instances (not destroyed) by their current observed health",
            ["status"],
            registry=self.registry,
        )
        self.repairs = RepairMetrics(self.registry)

    def observe_run(self, run: RunRecord) -> None:
        if run.started_at is not None and run.finished_at is not None:
            self.run_seconds.labels(run.action.value, run.status.value).observe(
                run.finished_at - run.started_at
            )

    async def render(self, store: Store, in_flight: int) -> bytes:
        counts = await store.orders.count_by_status()
        for status, count in counts.items():
            self.orders.labels(status.value).set(count)
        self.queue_depth.set(counts.get(OrderStatus.QUEUED, 0))
        self.in_flight.set(in_flight)
        health = await store.health.count_by_status()
        for health_status in HealthStatus:
            self.health.labels(health_status.value).set(health.get(health_status.value, 0))
        data: bytes = generate_latest(self.registry)
        return data
