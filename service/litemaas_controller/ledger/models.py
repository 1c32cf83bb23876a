"""The records the ledger keeps."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Action(StrEnum):
    PROVISION = "provision"
    UPDATE = "update"
    DESTROY = "destroy"
    #: the healing policy's (or a person's) repair of a broken instance: repair_litemaas.yml
    REPAIR = "repair"
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


class Lease(StrEnum):
    """What renewing a run's lease found: still this replica's (HELD), taken over or ended by
    another (LOST: stop the run, record nothing), or asked to stop by any replica (CANCEL)."""

    HELD = "held"
    LOST = "lost"
    CANCEL = "cancel"


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
    namespace: str | None  # None until the intake decides it (the instance's, or the default)
    vars: dict[str, Any]
    body: str  # canonical JSON of the parsed body: what duplicates are compared by
    source: str  # where it came from (``http:<peer>``, later ``redis:<stream>``)
    principal: str  # who sent it (``hmac``, ``bearer``)
    settled: str | None = None  # set by the intake: nothing to run, succeeded with this message


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
    #: when retention removed its payload (vars, body, results); id, body hash and status stay
    pruned_at: float | None = None
    seq: int = 0  # the ledger's arrival order: lists are paged at it


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
    seq: int = 0  # the ledger's creation order: lists are paged at it
    #: the replica that runs it (None: a run from before replicas shared a ledger)
    owner: str | None = None
    #: the fencing token of its claim: every write about the run carries it (None: from before)
    token: int | None = None
    #: until when (epoch seconds on the ledger's clock) the owner's lease holds unless renewed
    lease_until: float | None = None
    #: a replica asked for it to be cancelled: its owner stops it at its next heartbeat
    cancel_requested: bool = False


@dataclass(frozen=True)
class RunStart:
    """What a claim records: the run's playbook and vars, and the instance while it runs."""

    playbook: str
    extravars: dict[str, Any]
    instance_status: InstanceStatus
    instance_vars: dict[str, Any]


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
class HealthRecord:
    """One health transition of an instance (the current one is the newest)."""

    seq: int
    instance: str
    status: str  # a healing.model.HealthStatus value (the ledger sits below healing)
    reason: str
    since: float
    at: float  # when it was recorded


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


@dataclass(frozen=True)
class DeadLetterRecord:
    """The mark of a message stream entry given up as a dead letter (the dead-letter stream
    holds the entry itself, with its reason)."""

    seq: int
    entry: str  # ``<stream>/<entry id>``
    message_id: str | None
    kind: str  # malformed, invalid, conflict, failed, cancelled
    at: float


@dataclass(frozen=True)
class Cutoffs:
    """Retention as points in time: what ended before each one is pruned.

    ``tombstones`` is the oldest: an order past it is forgotten (id, body hash and status too), as
    are dead-letter marks and destroyed instances.
    """

    events: float  # run events of finished runs
    audit: float  # audit entries
    payloads: float  # finished orders' vars, body and results (and their runs' vars and results)
    tombstones: float
