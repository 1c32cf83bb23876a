"""Model-change actions → playbooks: ``register_model.yml`` and ``rotate_keys.yml``.

The mapping is the one docs/models-and-keys.md publishes ("Messages → playbooks"): the body is
passed as it is (it names Secrets, never holds a secret value), the namespace comes from the
ledger's record of the instance, never from the message.
"""

from __future__ import annotations

from typing import Any

from litemaas_controller.ledger import Action, OrderRecord

PLAYBOOKS = {
    Action.MODEL_UPSERT: "register_model.yml",
    Action.MODEL_DELETE: "register_model.yml",
    Action.KEY_CREATE: "rotate_keys.yml",
    Action.KEY_ROTATE: "rotate_keys.yml",
    Action.KEY_DELETE: "rotate_keys.yml",
    Action.MASTER_KEY_ROTATE: "rotate_keys.yml",
    Action.ADMIN_PASSWORD_ROTATE: "rotate_keys.yml",
}

#: the set_stats name under which each playbook reports what it did (names and ids, no secret)
RESULTS = {
    Action.MODEL_UPSERT: "litemaas_model",
    Action.MODEL_DELETE: "litemaas_model",
    Action.KEY_CREATE: "litemaas_key",
    Action.KEY_ROTATE: "litemaas_key",
    Action.KEY_DELETE: "litemaas_key",
    Action.MASTER_KEY_ROTATE: "litemaas_master_key",
    Action.ADMIN_PASSWORD_ROTATE: "litemaas_admin_password",
}


def extravars(order: OrderRecord) -> dict[str, Any]:
    """The run's extra vars for a change: the role's variables, filled from the body."""
    body = dict(order.vars)
    if order.action in (Action.MODEL_UPSERT, Action.MODEL_DELETE):
        state = "absent" if order.action == Action.MODEL_DELETE else "present"
        return {
            "litellm_models_namespace": order.namespace,
            "litellm_models_model": body,
            "litellm_models_state": state,
        }
    return {
        "litellm_keys_namespace": order.namespace,
        "litellm_keys_operation": order.action.value,
        "litellm_keys_key": body,
    }
