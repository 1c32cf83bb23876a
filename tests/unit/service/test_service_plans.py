"""Orders → playbooks and vars; run endings → order and instance statuses."""

from __future__ import annotations

import pytest

from litemaas_controller.dispatch import plans
from litemaas_controller.ledger import (
    Action,
    InstanceRecord,
    InstanceStatus,
    OrderRecord,
    OrderStatus,
    RunStatus,
)
from litemaas_controller.runner.run import RunResult

pytestmark = pytest.mark.unit
P = "ocp4_workload_litemaas_"


def order(action: Action, **variables: object) -> OrderRecord:
    return OrderRecord(
        id="o",
        action=action,
        instance="demo",
        namespace="litemaas-demo",
        vars=dict(variables),
        status=OrderStatus.QUEUED,
        source="t",
        principal="t",
        received_at=0,
        updated_at=0,
        body="{}",
    )


INSTANCE = InstanceRecord(
    name="demo",
    namespace="litemaas-demo",
    status=InstanceStatus.READY,
    vars={
        f"{P}version": "0.2.0",
        f"{P}postgres_storage_class": "fast",
        f"{P}namespace": "stale",
        f"{P}user_info_secrets": True,
    },
    results=None,
    last_order="o0",
    updated_at=0,
)


def test_provision_takes_only_the_orders_vars() -> None:
    ev = plans.extravars(order(Action.PROVISION, **{f"{P}version": "0.3.0"}), INSTANCE)
    assert ev[f"{P}version"] == "0.3.0" and f"{P}postgres_storage_class" not in ev
    assert ev["ACTION"] == "provision"
    assert plans.playbook(order(Action.PROVISION)) == "deploy_litemaas.yml"


def test_update_merges_recorded_vars_and_the_order_decides_the_rest() -> None:
    ev = plans.extravars(order(Action.UPDATE, **{f"{P}version": "0.3.0"}), INSTANCE)
    assert ev[f"{P}version"] == "0.3.0" and ev[f"{P}postgres_storage_class"] == "fast"
    assert ev[f"{P}namespace"] == "litemaas-demo" and ev[f"{P}instance"] == "demo"
    assert ev[f"{P}user_info_secrets"] is False
    assert ev[f"{P}managed_by"] == "litemaas-controller"


def test_destroy_runs_the_remove_playbook() -> None:
    o = order(Action.DESTROY)
    assert plans.playbook(o) == "remove_litemaas.yml"
    assert plans.extravars(o, INSTANCE)["ACTION"] == "destroy"


@pytest.mark.parametrize(
    ("action", "run", "order_status", "instance_status"),
    [
        (Action.PROVISION, RunStatus.SUCCEEDED, OrderStatus.SUCCEEDED, InstanceStatus.READY),
        (Action.DESTROY, RunStatus.SUCCEEDED, OrderStatus.SUCCEEDED, InstanceStatus.DESTROYED),
        (Action.UPDATE, RunStatus.FAILED, OrderStatus.FAILED, InstanceStatus.FAILED),
        (Action.UPDATE, RunStatus.TIMEOUT, OrderStatus.FAILED, InstanceStatus.FAILED),
        (Action.PROVISION, RunStatus.CANCELLED, OrderStatus.CANCELLED, None),
    ],
)
def test_outcomes(
    action: Action, run: RunStatus, order_status: OrderStatus, instance_status: object
) -> None:
    out = plans.outcome(action, RunResult(run, 0, None, None))
    assert (out.status, out.order_status, out.instance_status) == (
        run,
        order_status,
        instance_status,
    )


def test_recorded_vars_leave_out_what_the_order_decides() -> None:
    ev = plans.extravars(order(Action.UPDATE, **{f"{P}version": "0.3.0"}), INSTANCE)
    assert plans.recorded_vars(ev) == {
        f"{P}version": "0.3.0",
        f"{P}postgres_storage_class": "fast",
    }


@pytest.mark.parametrize("action", [Action.PROVISION, Action.UPDATE, Action.DESTROY, Action.REPAIR])
def test_in_a_cluster_every_instance_run_binds_the_controllers_own_account(action: Action) -> None:
    """The deploy role binds this account in the instance's namespace (docs/in-cluster.md); an
    order can neither set it nor keep it in the instance's recorded vars."""
    sneaky = order(action, **{f"{P}controller_account": "kube-system/default"})
    ev = plans.extravars(sneaky, INSTANCE, service_account="ctl/litemaas-controller")
    assert ev[f"{P}controller_account"] == "ctl/litemaas-controller"
    assert f"{P}controller_account" not in plans.recorded_vars(ev)
    outside = plans.extravars(order(action), INSTANCE)
    assert f"{P}controller_account" not in outside
