# Copyright: litemaas-controller developers
# MIT License
"""permanent_failure: fail a play with ``failure_kind: permanent``, as the collection's modules do.

``ansible.builtin.fail`` cannot say that no retry can cure the failure; a role that refuses to act
(a repair that cannot restore an instance safely) fails through this plugin instead, so the
controller stops retrying and a person reads ``msg`` (plugins/module_utils/litellm_failure.py).
"""

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

DOCUMENTATION = r"""
action: permanent_failure
short_description: Fail with a message and failure_kind permanent
description:
  - Fails the task with O(msg) and C(failure_kind=permanent) in its result, the way the
    collection's modules report a failure that running again cannot fix.
options:
  msg:
    description: What is wrong and what a person must do.
    type: str
    required: true
author:
  - litemaas-controller developers
"""

EXAMPLES = r"""
- name: Refuse to repair without the data volume
  rhpds.litemaas.permanent_failure:
    msg: PVC postgres-storage-postgres-0 is gone; restore it from a backup, then run again
"""


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
