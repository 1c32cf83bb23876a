# Copyright: litemaas-controller developers
# MIT License
"""The documentation of action plugin event_vars (plugins/action/event_vars.py): ansible-doc shows
an action plugin through the module of its name; the plugin runs on the controller, nothing of this
file does."""

DOCUMENTATION = r"""
module: event_vars
short_description: Set the variables an rhpds.litemaas event source computed, as unsafe facts
version_added: 0.2.0
description:
  - Reads C(ansible_eda.event.extravars), the variables one of this collection's event sources
    (C(order_webhook), C(change_stream), C(instance_health)) computed for the playbook, and
    sets them as facts that Ansible never renders as templates, so a C({{ ... }}) in an order
    or a message stays literal.
  - Reads the extra var directly, without templating it; ansible-rulebook passes event data as
    plain extra vars, which Ansible would otherwise template wherever they are used.
  - Also sets C(litemaas_event), the event's C(order) or C(message) and C(stream) parts, or
    a health event's C(instance), C(namespace), C(status), C(reason) and C(since).
  - Fails when the play was not run from a rulebook with one of those sources.
options: {}
author:
  - litemaas-controller developers
attributes:
  action:
    support: full
    description: An action plugin; it runs on the controller.
"""

EXAMPLES = r"""
- name: Set the variables the order source computed
  rhpds.litemaas.event_vars:
"""

RETURN = r"""
ansible_facts:
  description: The event's extra vars and C(litemaas_event), every string unsafe.
  type: dict
  returned: success
"""
