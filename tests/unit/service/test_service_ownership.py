"""The ownership rules of the intake: which orders an instance's record allows, and where."""

from __future__ import annotations

import pytest

from litemaas_controller.errors import ConflictError
from litemaas_controller.intake import ownership
from litemaas_controller.ledger import Action, InstanceRecord, InstanceStatus, NewOrder

pytestmark = pytest.mark.unit


def order(action: Action, namespace: str | None = None) -> NewOrder:
    return NewOrder("o1", action, "demo", namespace, {}, "{}", "test", "bearer")


def record(status: InstanceStatus) -> InstanceRecord:
    return InstanceRecord("demo", "litemaas-demo", status, {}, None, None, 0.0)


LIVE, GONE = record(InstanceStatus.READY), record(InstanceStatus.DESTROYED)


@pytest.mark.parametrize(
    ("action", "instance", "refusal"),
    [
        (Action.UPDATE, None, "never provisioned"),
        (Action.DESTROY, None, "never provisioned"),
        (Action.KEY_ROTATE, None, "never provisioned"),
        (Action.UPDATE, GONE, "was destroyed"),
        (Action.KEY_ROTATE, GONE, "was destroyed"),
    ],
)
def test_orders_for_instances_the_controller_does_not_hold_are_refused(
    action: Action, instance: InstanceRecord | None, refusal: str
) -> None:
    with pytest.raises(ConflictError, match=refusal):
        ownership.admit(order(action), instance)


def test_a_destroy_of_a_destroyed_instance_is_settled_in_its_namespace() -> None:
    admission = ownership.admit(order(Action.DESTROY), GONE)
    assert admission.namespace == "litemaas-demo" and "already destroyed" in str(admission.settled)
    with pytest.raises(ConflictError, match="lives in namespace"):
        ownership.admit(order(Action.DESTROY, "rhpds"), GONE)


def test_namespaces_new_default_or_kept() -> None:
    assert ownership.admit(order(Action.PROVISION), None).namespace == "litemaas-demo"
    assert ownership.admit(order(Action.PROVISION, "team-a"), GONE).namespace == "team-a"
    assert ownership.admit(order(Action.UPDATE), LIVE) == ownership.Admission("litemaas-demo")
    with pytest.raises(ConflictError, match="lives in namespace"):
        ownership.admit(order(Action.PROVISION, "elsewhere"), LIVE)
    assert ownership.explicit_first_namespace(order(Action.PROVISION, "team-a"), GONE)
    assert not ownership.explicit_first_namespace(order(Action.PROVISION, "litemaas-demo"), LIVE)


@pytest.mark.parametrize(
    "labels",
    [
        {},
        {"app": "litemaas", "workload": "litemaas"},  # 0.1.2's rhpds
        {"app.kubernetes.io/managed-by": "litemaas-controller"},
        {"app.kubernetes.io/managed-by": "someone", "litemaas.rhpds.io/instance": "demo"},
        {"app.kubernetes.io/managed-by": "litemaas-controller", "litemaas.rhpds.io/instance": "x"},
    ],
)
def test_an_existing_namespace_is_taken_only_when_made_for_the_instance(
    labels: dict[str, str],
) -> None:
    with pytest.raises(ConflictError, match="not managed by this controller"):
        ownership.check_namespace_labels(order(Action.PROVISION, "ns"), "ns", labels)


def test_a_new_or_managed_namespace_is_taken() -> None:
    ownership.check_namespace_labels(order(Action.PROVISION, "ns"), "ns", None)
    mine = {"app.kubernetes.io/managed-by": "litemaas-controller",
            "litemaas.rhpds.io/instance": "demo"}  # fmt: skip
    ownership.check_namespace_labels(order(Action.PROVISION, "ns"), "ns", mine)
