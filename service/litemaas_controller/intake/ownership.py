"""Which orders the controller takes for an instance: only instances it provisioned itself.

- ``update`` (and every model or key change) needs an instance this controller provisioned and has
  not destroyed; ``destroy`` needs one it provisioned.  A ``destroy`` of an instance already
  destroyed has nothing left to do: it is accepted as already succeeded, and nothing runs.
- An instance keeps its namespace while it lives; one instance per namespace.
- On a first provision, an explicit namespace must not exist yet, or carry the labels this
  controller puts on the namespaces it creates for that very instance: a namespace somebody else
  made is never taken over (a later destroy would delete it with everything in it).

Pure functions of what the ledger and the cluster say; the intake calls them before it writes.
"""

from __future__ import annotations

from dataclasses import dataclass

from litemaas_controller.errors import ConflictError
from litemaas_controller.ledger import Action, InstanceRecord, InstanceStatus, NewOrder
from litemaas_controller.role.order_vars import CONTROLLER

MANAGED_BY = "app.kubernetes.io/managed-by"
INSTANCE_LABEL = "litemaas.rhpds.io/instance"


@dataclass(frozen=True)
class Admission:
    """What an acceptable order acts on, and whether it needs a run at all."""

    namespace: str
    settled: str | None = None  # the order needs no run: recorded as succeeded with this message


def default_namespace(instance: str) -> str:
    return f"litemaas-{instance}"


def _live(instance: InstanceRecord | None) -> bool:
    return instance is not None and instance.status != InstanceStatus.DESTROYED


def _same_namespace(order: NewOrder, instance: InstanceRecord) -> str:
    if order.namespace not in (None, instance.namespace):
        raise ConflictError(
            f"instance {order.instance} lives in namespace {instance.namespace}; "
            f"leave namespace out or set it to {instance.namespace}",
            details={"instance": order.instance, "namespace": instance.namespace},
        )
    return instance.namespace


def admit(order: NewOrder, instance: InstanceRecord | None) -> Admission:
    """The namespace ``order`` acts on; ``ConflictError`` when the controller does not own it."""
    if _live(instance):
        assert instance is not None
        return Admission(_same_namespace(order, instance))
    if order.action == Action.PROVISION:
        return Admission(order.namespace or default_namespace(order.instance))
    if instance is None:
        raise ConflictError(
            f"instance {order.instance} was never provisioned by this controller; it "
            f"{'destroys' if order.action == Action.DESTROY else 'changes'} only instances "
            "it provisioned (send a provision order first)",
            details={"instance": order.instance},
        )
    if order.action == Action.DESTROY:
        return Admission(
            _same_namespace(order, instance),
            settled=f"instance {order.instance} was already destroyed; nothing left to do",
        )
    raise ConflictError(
        f"instance {order.instance} was destroyed; send a provision order to create it again",
        details={"instance": order.instance},
    )


def explicit_first_namespace(order: NewOrder, instance: InstanceRecord | None) -> bool:
    """Does ``order`` name the namespace of a new instance (which the cluster must then allow)?"""
    return order.action == Action.PROVISION and order.namespace is not None and not _live(instance)


def check_namespace_free(order: NewOrder, namespace: str, holder: str | None) -> None:
    """One instance per namespace (``holder``: the live instance the ledger has there)."""
    if holder is not None and holder != order.instance:
        raise ConflictError(
            f"namespace {namespace} already holds instance {holder}; choose another namespace",
            details={"namespace": namespace, "instance": holder},
        )


def check_namespace_labels(order: NewOrder, namespace: str, labels: dict[str, str] | None) -> None:
    """An existing namespace is taken only when this controller made it for this instance."""
    if labels is None:
        return  # does not exist yet: the deploy creates it with the instance's labels
    if labels.get(MANAGED_BY) == CONTROLLER and labels.get(INSTANCE_LABEL) == order.instance:
        return
    raise ConflictError(
        f"namespace {namespace} exists and is not managed by this controller for instance "
        f"{order.instance} (it lacks the labels {MANAGED_BY}={CONTROLLER} and "
        f"{INSTANCE_LABEL}={order.instance}); the controller never takes over a namespace it did "
        "not create: leave namespace out or name one that does not exist yet",
        details={"namespace": namespace, "instance": order.instance},
    )
