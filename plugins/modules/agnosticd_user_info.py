# Copyright: litemaas-controller developers
# MIT License
"""The documentation of action plugin agnosticd_user_info (plugins/action/agnosticd_user_info.py):
ansible-doc shows an action plugin through the module of its name; the plugin runs on the
controller, nothing of this file does."""

DOCUMENTATION = r"""
module: agnosticd_user_info
short_description: Report user-facing access information to AgnosticD / RHDP
version_added: 0.2.0
description:
  - Returns O(msg) lines prefixed with C(user.info:) (or O(body) prefixed with C(user.body:)) and
    O(data) as the task's result, where RHDP reads them.
  - RHDP (Babylon) finds the results by scanning job events for
    C(task_action == 'agnosticd_user_info'); call the plugin by its short name and never with
    C(no_log).
  - When the AgnosticD variable C(output_dir) is set, appends the lines to
    C(<ACTION>-user-info.yaml) (or C(<ACTION>-user-body.yaml)) there and merges O(data) into
    C(<ACTION>-user-data.yaml) (per user under C(users) when O(user) is given); C(ACTION)
    defaults to C(provision). Without C(output_dir) (a plain ansible-playbook run, the controller)
    it writes nothing locally.
  - Changes nothing on the managed host and supports check mode.
author:
  - litemaas-controller developers
options:
  msg:
    description: A message line or a list of lines.
    type: raw
  body:
    description: Free text (mutually exclusive with O(msg)).
    type: str
  data:
    description: Name/value pairs.
    type: dict
  user:
    description: Report for this user instead of globally (the lines are then returned unprefixed).
    type: str
attributes:
  action:
    support: full
    description: An action plugin; it runs on the controller.
  check_mode:
    support: full
    description: Reports the same in check mode.
"""

EXAMPLES = r"""
- name: Report access information to AgnosticD
  agnosticd_user_info:  # noqa: fqcn[action]
    msg:
      - "LiteLLM Admin Portal: https://litellm-litemaas.apps.example.com"
    data:
      litellm_api_endpoint: https://litellm-litemaas.apps.example.com
"""

RETURN = r"""
msg:
  description: The lines, prefixed with C(user.info:) (or the body, prefixed with C(user.body:)).
  type: raw
  returned: when O(msg) or O(body) is given
data:
  description: O(data), as plain JSON values.
  type: dict
  returned: when O(data) is not empty
user:
  description: O(user).
  type: str
  returned: when O(user) is given
"""
