# Copyright: litemaas-controller developers
# MIT License
"""The documentation of action plugin permanent_failure (plugins/action/permanent_failure.py):
ansible-doc shows an action plugin through the module of its name; the plugin runs on the
controller, nothing of this file does."""

DOCUMENTATION = r"""
module: permanent_failure
short_description: Fail with a message and failure_kind permanent
version_added: 0.2.0
description:
  - Fails the task with O(msg) and C(failure_kind=permanent) in its result, the way the
    collection's modules report a failure that running again cannot fix; the controller then stops
    retrying and a person reads O(msg).
options:
  msg:
    description: What is wrong and what a person must do.
    type: str
    required: true
author:
  - litemaas-controller developers
attributes:
  action:
    support: full
    description: An action plugin; it runs on the controller.
"""

EXAMPLES = r"""
- name: Refuse to repair without the data volume
  rhpds.litemaas.permanent_failure:
    msg: PVC postgres-storage-postgres-0 is gone; restore it from a backup, then run again
"""

RETURN = r"""
msg:
  description: O(msg).
  type: str
  returned: always
failure_kind:
  description: C(permanent).
  type: str
  returned: always
"""
