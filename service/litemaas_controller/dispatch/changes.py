"""Model-change actions → playbooks: ``register_model.yml`` and ``rotate_keys.yml``.

The mapping is the one docs/models-and-keys.md publishes ("Messages → playbooks"): the body is
passed as it is (it names Secrets, never holds a secret value), the namespace comes from the
ledger's record of the instance, never from the message.
"""

from __future__ import annotations

from typing import Any

from litemaas_controller.ledger import Action, OrderRecord

#: each change: the playbook that applies it, and the set_stats name under which that playbook
#: reports what it did (names and ids, never a secret)
CHANGES: dict[Action, tuple[str, str]] = {
    Action.MODEL_UPSERT: ("register_model.yml", "litemaas_model"),
    Action.MODEL_DELETE: ("register_model.yml", "litemaas_model"),
    Action.KEY_CREATE: ("rotate_keys.yml", "litemaas_key"),
    Action.KEY_ROTATE: ("rotate_keys.yml", "litemaas_key"),
    Action.KEY_DELETE: ("rotate_keys.yml", "litemaas_key"),
    Action.MASTER_KEY_ROTATE: ("rotate_keys.yml", "litemaas_master_key"),
    Action.ADMIN_PASSWORD_ROTATE: ("rotate_keys.yml", "litemaas_admin_password"),
}
#: changes about one named thing, by the body field that names it: a newer message about the same
#: model or alias that has already run makes an older one that is retried stale
SUBJECTS: dict[Action, str] = {
    Action.MODEL_UPSERT: "name",
    Action.MODEL_DELETE: "name",
    Action.KEY_CREATE: "alias",
    Action.KEY_ROTATE: "alias",
    Action.KEY_DELETE: "alias",
}
PLAYBOOKS = {action: playbook for action, (playbook, _) in CHANGES.items()}
RESULTS = {action: stats for action, (_, stats) in CHANGES.items()}


def same_subject(action: Action) -> tuple[tuple[Action, ...], str] | None:
    """The actions about the same kind of thing as ``action`` and the body field naming it."""
    field = SUBJECTS.get(action)
    if field is None:
        return None
    return tuple(a for a, f in SUBJECTS.items() if f == field), field


def extravars(order: OrderRecord, upstream_allow: tuple[str, ...]) -> dict[str, Any]:
    """The run's extra vars for a change (see ``change_extravars``)."""
    return change_extravars(order.action, order.namespace, dict(order.vars), upstream_allow)


def change_extravars(
    action: Action, namespace: str, body: dict[str, Any], upstream_allow: tuple[str, ...]
) -> dict[str, Any]:
    """The role's variables, filled from the message body; a model change also gets the
    operator's ``LITEMAAS_UPSTREAM_ALLOW``, which the module enforces too."""
    if action in (Action.MODEL_UPSERT, Action.MODEL_DELETE):
        state = "absent" if action == Action.MODEL_DELETE else "present"
        return {
            "litellm_models_namespace": namespace,
            "litellm_models_model": body,
            "litellm_models_state": state,
            "litellm_models_upstream_allow": list(upstream_allow),
        }
    return {
        "litellm_keys_namespace": namespace,
        "litellm_keys_operation": action.value,
        "litellm_keys_key": body,
    }
