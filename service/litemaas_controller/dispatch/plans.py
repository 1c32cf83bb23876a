"""Orders → playbooks: which playbook an order runs, with which vars, and what its end means."""

from __future__ import annotations

from typing import Any

from litemaas_controller.dispatch import changes
from litemaas_controller.ledger import (
    CHANGE_ACTIONS,
    Action,
    InstanceRecord,
    InstanceStatus,
    OrderRecord,
    OrderStatus,
    RunOutcome,
    RunStatus,
)
from litemaas_controller.role.order_vars import CONTROLLER, DECIDED, PREFIX
from litemaas_controller.runner.run import RunResult

PLAYBOOKS = {
    Action.PROVISION: "deploy_litemaas.yml",
    Action.UPDATE: "deploy_litemaas.yml",
    Action.DESTROY: "remove_litemaas.yml",
    Action.REPAIR: "repair_litemaas.yml",
    **changes.PLAYBOOKS,
}

_STARTING = {
    Action.PROVISION: InstanceStatus.PROVISIONING,
    Action.UPDATE: InstanceStatus.UPDATING,
    Action.DESTROY: InstanceStatus.DESTROYING,
}

#: actions whose runs leave the instance's lifecycle status and recorded vars as they are: model
#: and key changes, and repairs (a repair converges to the recorded state; health says how it went)
KEEPS_INSTANCE = CHANGE_ACTIONS | {Action.REPAIR}

_ORDER_STATUS = {
    RunStatus.SUCCEEDED: OrderStatus.SUCCEEDED,
    RunStatus.FAILED: OrderStatus.FAILED,
    RunStatus.TIMEOUT: OrderStatus.FAILED,
    RunStatus.CANCELLED: OrderStatus.CANCELLED,
}


def extravars(
    order: OrderRecord,
    instance: InstanceRecord | None,
    upstream_allow: tuple[str, ...] = (),
    service_account: str | None = None,
) -> dict[str, Any]:
    """The run's extra vars: recorded vars (update, destroy, repair) < the order's vars <
    decided ones.
    ``upstream_allow`` (``LITEMAAS_UPSTREAM_ALLOW``) goes to model changes;
    ``service_account`` (``LITEMAAS_SERVICE_ACCOUNT``) to the deploy role, which binds it."""
    if order.action in CHANGE_ACTIONS:
        return changes.extravars(order, upstream_allow)
    recorded = {} if order.action == Action.PROVISION or instance is None else instance.vars
    merged = order_extravars(order.action, order.instance, order.namespace, order.vars, recorded)
    if service_account:
        merged[f"{PREFIX}controller_account"] = service_account
    return merged


def order_extravars(
    action: Action,
    instance: str,
    namespace: str,
    order_vars: dict[str, Any],
    recorded: dict[str, Any],
) -> dict[str, Any]:
    """A provision, update or destroy's extra vars (also the EDA order source's, without a
    ledger: ``recorded`` is then empty)."""
    merged = {k: v for k, v in recorded.items() if k not in DECIDED}
    merged.update(order_vars)
    merged.update(
        {
            "ACTION": "destroy" if action == Action.DESTROY else "provision",
            f"{PREFIX}instance": instance,
            f"{PREFIX}namespace": namespace,
            # the controller serves credentials itself; AgnosticD's hand-off would leak them
            f"{PREFIX}user_info_secrets": False,
            f"{PREFIX}managed_by": CONTROLLER,
        }
    )
    return merged


def recorded_vars(extravars: dict[str, Any]) -> dict[str, Any]:
    """What the instance keeps for later updates: the order-settable vars it runs with."""
    return {k: v for k, v in extravars.items() if k.startswith(PREFIX) and k not in DECIDED}


def playbook(order: OrderRecord) -> str:
    return PLAYBOOKS[order.action]


def results_key(action: Action) -> str:
    """The set_stats name the action's playbook reports its results under (DESIGN.md, "Results":
    ``litemaas`` for the deploy)."""
    return changes.RESULTS.get(action, "litemaas")


def starting_status(action: Action) -> InstanceStatus:
    return _STARTING[action]


def instance_on_start(
    order: OrderRecord, instance: InstanceRecord | None, extravars: dict[str, Any]
) -> tuple[InstanceStatus, dict[str, Any]]:
    """The instance's status and recorded vars while the order runs.

    A model or key change or a repair leaves both as they are: the instance stays ready while
    its models change or it is repaired, and its deploy vars must survive for the next update.
    """
    if order.action in KEEPS_INSTANCE and instance is not None:
        return instance.status, instance.vars
    return starting_status(order.action), recorded_vars(extravars)


def outcome(action: Action, result: RunResult) -> RunOutcome:
    """What a finished run means for its order and its instance."""
    instance_status: InstanceStatus | None
    if action in KEEPS_INSTANCE:
        instance_status = None  # a failed model change or repair does not make it failed
    elif result.status == RunStatus.SUCCEEDED:
        instance_status = (
            InstanceStatus.DESTROYED if action == Action.DESTROY else InstanceStatus.READY
        )
    elif result.status == RunStatus.CANCELLED:
        instance_status = None  # unknown: a later order or a repair settles it
    else:
        instance_status = InstanceStatus.FAILED
    return RunOutcome(
        status=result.status,
        order_status=_ORDER_STATUS[result.status],
        instance_status=instance_status,
        rc=result.rc,
        reason=result.reason,
        results=result.results,
    )
