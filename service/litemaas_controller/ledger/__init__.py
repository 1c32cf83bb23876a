"""The ledger: orders, runs, run events, instances and the audit trail, behind ``Store``."""

from litemaas_controller.ledger.models import (
    CHANGE_ACTIONS,
    TERMINAL_ORDER,
    TERMINAL_RUN,
    Action,
    AuditRecord,
    Cutoffs,
    DeadLetterRecord,
    EventRecord,
    HealthRecord,
    InstanceRecord,
    InstanceStatus,
    Lease,
    NewOrder,
    OrderRecord,
    OrderStatus,
    RunOutcome,
    RunRecord,
    RunStart,
    RunStatus,
)
from litemaas_controller.ledger.opening import open_store
from litemaas_controller.ledger.pg import PgStore
from litemaas_controller.ledger.sqlite import SqliteStore
from litemaas_controller.ledger.store import Store

__all__ = [
    "CHANGE_ACTIONS",
    "TERMINAL_ORDER",
    "TERMINAL_RUN",
    "Action",
    "AuditRecord",
    "Cutoffs",
    "DeadLetterRecord",
    "EventRecord",
    "HealthRecord",
    "InstanceRecord",
    "InstanceStatus",
    "Lease",
    "NewOrder",
    "OrderRecord",
    "OrderStatus",
    "PgStore",
    "RunOutcome",
    "RunRecord",
    "RunStart",
    "RunStatus",
    "SqliteStore",
    "Store",
    "open_store",
]
