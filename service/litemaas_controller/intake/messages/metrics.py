"""Prometheus counters of the message intake, registered in the application's registry.

Labels are the message type (from the closed list, else ``unknown``) and the outcome: never a
message id, an instance or a body.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter

from litemaas_controller.intake.messages.schema import TYPES

OUTCOMES = (
    "accepted",  # new: in the ledger, its run queued
    "duplicate",  # its id was already in the ledger with the same content: acked, no run
    "succeeded",  # its run succeeded: acked
    "retried",  # its run failed: left pending, delivered again after the claim idle time
    "superseded",  # a retry dropped: a newer message about the same model or alias ran first
    "dead_lettered",  # given up (invalid, conflict, or failed max-deliveries times): acked
)


class MessageMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.messages = Counter(
            "litemaas_messages",
            "Model-change messages handled, by type and outcome",
            ["type", "outcome"],
            registry=registry,
        )
        self.dead_letters = Counter(
            "litemaas_dead_letters",
            "Messages written to the dead-letter stream, by why (malformed, invalid, conflict, "
            "failed, cancelled)",
            ["kind"],
            registry=registry,
        )

    def count(self, message_type: str, outcome: str) -> None:
        label = message_type if message_type in TYPES else "unknown"
        self.messages.labels(label, outcome).inc()

    def dead(self, message_type: str, kind: str) -> None:
        self.count(message_type, "dead_lettered")
        self.dead_letters.labels(kind).inc()
