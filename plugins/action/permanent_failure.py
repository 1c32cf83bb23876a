# Copyright: litemaas-controller developers
# MIT License
"""permanent_failure: fail a play with ``failure_kind: permanent``, as the collection's modules do.

``ansible.builtin.fail`` cannot say that no retry can cure the failure; a role that refuses to act
(a repair that cannot restore an instance safely) fails through this plugin instead, so the
controller stops retrying and a person reads ``msg`` (plugins/module_utils/litellm_failure.py).
Documented for ansible-doc in plugins/modules/permanent_failure.py.
"""

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(("msg",))

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        msg = self._task.args.get("msg")
        if not isinstance(msg, str) or not msg.strip():
            raise AnsibleActionFail("permanent_failure: msg must be a non-empty string")
        result.update(failed=True, msg=msg, failure_kind="permanent")
        return result
