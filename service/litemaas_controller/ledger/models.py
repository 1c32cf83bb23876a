"""The records the ledger keeps, and the rules that hold whatever store keeps them."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from litemaas_controller.errors import ConflictError


class Action(StrEnum):
    PROVISION = "provision"
    UPDATE = "update"
    DESTROY = "destroy"
    # model-change messages (DESIGN.md): the message type is the action
    MODEL_UPSERT = "model.upsert"
    MODEL_DELETE = "model.delete"
    KEY_CREATE = "key.create"
    KEY_ROTATE = "key.rotate"
    KEY_DELETE = "key.delete"
    MASTER_KEY_ROTATE = "master_key.rotate"
    ADMIN_PASSWORD_ROTATE = "admin_password.rotate"  # noqa: S105 (a message type)


#: actions that change a live instance's models or keys: they never create an instance, and
#: their runs leave its status and recorded vars alone
CHANGE_ACTIONS = frozenset(a for a in Action if "." in a.value)


class OrderStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    SUPERSEDED = "superseded"


class RunStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    TIMEOUT = "timeout"


class InstanceStatus(StrEnum):
    PENDING = "pending"
    PROVISIONING = "provisioning"
    UPDATING = "updating"
    READY = "ready"
    FAILED = "failed"
    DESTROYING = "destroying"
    DESTROYED = "destroyed"


TERMINAL_ORDER = frozenset(
    {OrderStatus.SUCCEEDED, OrderStatus.FAILED, OrderStatus.CANCELLED, OrderStatus.SUPERSEDED}
)
TERMINAL_RUN = frozenset(
    {RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED, RunStatus.TIMEOUT}
)

#: how the reason of a failed run (and so of its order) starts when the failed task said that no
#: retry can fix it (``failure_kind: permanent`` in a collection module's result)
PERMANENT_FAILURE = "permanent failure: "


def is_permanent(reason: str | None) -> bool:
    """Whether a run or order ``reason`` records a failure that no retry can fix."""
    return reason is not None and reason.startswith(PERMANENT_FAILURE)


@dataclass(frozen=True)
class NewOrder:
    """An order that passed validation and authentication, not yet in the ledger."""

    id: str
    action: Action
    instance: str
    namespace: str | None
    vars: dict[str, Any]
    body: str  # canonical JSON of the parsed body: what duplicates are compared by
    source: str  # where it came from (``http:<peer>``, later ``redis:<stream>``)
    principal: str  # who sent it (``hmac``, ``bearer``)


@dataclass(frozen=True)
class OrderRecord:
    id: str
    action: Action
    instance: str
    namespace: str
    vars: dict[str, Any]
    status: OrderStatus
    source: str
    principal: str
    received_at: float
    updated_at: float
    body: str = field(repr=False)
    message: str | None = None
    results: dict[str, Any] | None = None


@dataclass(frozen=True)
class RunRecord:
    id: str
    order_id: str
    instance: str
    action: Action
    playbook: str
    vars: dict[str, Any]
    status: RunStatus
    attempt: int
    created_at: float
    started_at: float | None = None
    finished_at: float | None = None
    rc: int | None = None
    reason: str | None = None
    pid: int | None = None
    pid_start: int | None = None
    results: dict[str, Any] | None = None


@dataclass(frozen=True)
class EventRecord:
    """One ansible-runner event, already redacted, reduced to what a person follows."""

    run_id: str
    seq: int
    at: float
    event: str
    task: str | None = None
    host: str | None = None
    status: str | None = None
    stdout: str = ""


@dataclass(frozen=True)
class InstanceRecord:
    name: str
    namespace: str
    status: InstanceStatus
    vars: dict[str, Any]
    results: dict[str, Any] | None
    last_order: str | None
    updated_at: float


@dataclass(frozen=True)
class AuditRecord:
    seq: int
    at: float
    actor: str
    action: str
    subject: str
    source: str
    detail: dict[str, Any]


@dataclass(frozen=True)
class RunOutcome:
    """How a run ended, and what that means for its order and instance."""

    status: RunStatus
    order_status: OrderStatus
    instance_status: InstanceStatus | None
    rc: int | None = None
    reason: str | None = None
    results: dict[str, Any] | None = None


def default_namespace(instance: str) -> str:
    return f"litemaas-{instance}"


def resolve_namespace(order: NewOrder, existing: InstanceRecord | None) -> str:
    """The namespace an order acts on; an instance keeps its namespace while it exists."""
    live = existing is not None and existing.status != InstanceStatus.DESTROYED
    if existing is not None and live:
        if order.namespace not in (None, existing.namespace):
            raise ConflictError(
                f"instance {order.instance} lives in namespace {existing.namespace}; "
                f"leave namespace out or set it to {existing.namespace}",
                details={"instance": order.instance, "namespace": existing.namespace},
            )
        return existing.namespace
    if order.action == Action.UPDATE or order.action in CHANGE_ACTIONS:
        raise ConflictError(
            f"instance {order.instance} is not provisioned; send a provision order first",
            details={"instance": order.instance},
        )
    return order.namespace or default_namespace(order.instance)


def check_namespace_free(order: NewOrder, namespace: str, holder: str | None) -> None:
    """One instance per namespace."""
    if holder is not None and holder != order.instance:
        raise ConflictError(
            f"namespace {namespace} already holds instance {holder}; choose another namespace",
            details={"namespace": namespace, "instance": holder},
        )
