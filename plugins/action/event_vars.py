# -*- coding: utf-8 -*-
# Copyright: litemaas-controller developers; MIT license
"""Take an ansible-rulebook event's variables as data: facts that are never templated.

Documented for ansible-doc in plugins/modules/event_vars.py.
"""

from __future__ import annotations

import json

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase
from ansible.utils.unsafe_proxy import wrap_var

_PARTS = ("order", "message", "stream", "instance", "namespace", "status", "reason", "since")


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset()

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        event = ((task_vars or {}).get("ansible_eda") or {}).get("event")
        if not isinstance(event, dict) or not isinstance(event.get("extravars"), dict):
            raise AnsibleActionFail(
                "no rhpds.litemaas event: run this playbook from a rulebook whose source is "
                "rhpds.litemaas.order_webhook, change_stream or instance_health"
            )
        facts = dict(event["extravars"])
        facts["litemaas_event"] = {k: event[k] for k in _PARTS if k in event}
        result.update(changed=False, ansible_facts=_data(facts))
        return result


def _data(value):
    """``value`` as plain JSON data whose every string is unsafe.

    The round trip drops whatever the extra vars file attached (ansible-core 2.19 marks it as
    trusted to be a template); only strings are wrapped, as lists and maps hold nothing that
    renders (2.19 cannot write a wrapped empty list to the fact cache ansible-runner sets up).
    """
    return _unsafe(json.loads(json.dumps(value)))


def _unsafe(value):
    if isinstance(value, str):
        return wrap_var(value)
    if isinstance(value, dict):
        return {wrap_var(k): _unsafe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unsafe(v) for v in value]
    return value
