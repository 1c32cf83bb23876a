"""Prometheus counters of the run boundary, registered in the application's registry."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter


class RunnerMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.unended = Counter(
            "litemaas_run_processes_unended",
            "Processes of runs still there after SIGKILL and the kill grace (stuck in the "
            "kernel, frozen, or not ours to signal): a person must look",
            registry=registry,
        )
