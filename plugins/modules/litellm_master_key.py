#!/usr/bin/python
# Copyright: litemaas-controller developers
# MIT License
"""litellm_master_key: rotate LiteLLM's master key through the proxy, or check which key works."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: litellm_master_key
short_description: Rotate the LiteLLM master key through the proxy, and check keys against it
version_added: 0.2.0
description:
  - With O(state=rotated), calls C(/key/regenerate) with the current master key and
    O(new_master_key). LiteLLM re-encrypts every stored model credential (and its stored environment
    variables) with the new key. This works without an enterprise licence.
  - The running proxy keeps accepting the B(old) key until it is restarted with the new one in its
    environment; until then stored credentials cannot be decrypted by new loads. So the caller must,
    right after this, put the new key in the proxy's Secret and restart it (the
    C(rotate_keys.yml) playbook does this and verifies the result).
  - Do not combine with C(LITELLM_SALT_KEY); LiteLLM then encrypts with the salt key and this rotation
    breaks stored credentials.
  - With O(state=verified), checks that O(new_master_key) is accepted and, when O(refused_keys) are
    given, that each of them is refused (HTTP 401), retrying for O(wait_timeout) seconds while the
    proxy restarts. Changes nothing.
  - Neither key is ever returned or logged.
author:
  - litemaas-controller developers
extends_documentation_fragment:
  - rhpds.litemaas.litellm
options:
  state:
    description:
      - V(rotated) rotates (always a change); V(verified) only checks.
    type: str
    choices: [rotated, verified]
    default: rotated
  new_master_key:
    description:
      - The new master key. Must start with C(sk-). Never logged.
    type: str
    required: true
  refused_keys:
    description:
      - With O(state=verified), keys that must be refused (the old master key). Never logged.
    type: list
    elements: str
    default: []
  wait_timeout:
    description:
      - With O(state=verified), how long to wait for the proxy to accept the new key and refuse the
        old ones (a restart takes a while).
    type: int
    default: 300
seealso:
  - module: rhpds.litemaas.litellm_info
"""  # noqa: E501 (documentation prose)

EXAMPLES = r"""
- name: Rotate (the current key is read from litellm-secret)
  rhpds.litemaas.litellm_master_key:
    namespace: litemaas
    new_master_key: "{{ new_key }}"
  no_log: true

- name: After the restart, the new key works and the old one is refused
  rhpds.litemaas.litellm_master_key:
    url: "{{ litellm_url }}"
    master_key: "{{ new_key }}"
    new_master_key: "{{ new_key }}"
    refused_keys: ["{{ old_key }}"]
    state: verified
  no_log: true
"""

RETURN = r"""
url:
  description: The LiteLLM URL used.
  returned: always
  type: str
  sample: https://litellm-litemaas.apps.example.com
waited:
  description: Seconds spent waiting for the proxy (O(state=verified)).
  returned: state=verified
  type: float
  sample: 18.2
"""

import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.rhpds.litemaas.plugins.module_utils.litellm_api import LiteLLMError
from ansible_collections.rhpds.litemaas.plugins.module_utils.litellm_connection import (
    Connection,
    ConnectionError_,
    connection_args,
)


def verify(api, new_key, refused, timeout):
    started = time.monotonic()
    last = "no answer yet"
    while True:
        try:
            accepted = api.master_key_works(new_key)
            still_accepted = [i for i, k in enumerate(refused) if api.master_key_works(k)]
            if accepted and not still_accepted:
                return time.monotonic() - started
            last = (
                "the new master key is refused"
                if not accepted
                else "old key #%d is still accepted" % (still_accepted[0] + 1)
            )
        except LiteLLMError as exc:
            last = str(exc)
        if time.monotonic() - started > timeout:
            raise LiteLLMError("after %ds: %s" % (timeout, last))
        time.sleep(2)


def main():
    module = AnsibleModule(
        argument_spec=connection_args(
            state=dict(type="str", choices=["rotated", "verified"], default="rotated"),
            new_master_key=dict(type="str", required=True, no_log=True),
            refused_keys=dict(type="list", elements="str", default=[], no_log=True),
            wait_timeout=dict(type="int", default=300),
        ),
        supports_check_mode=True,
    )
    new_key = module.params["new_master_key"]
    if not new_key.startswith("sk-") or len(new_key) < 20:
        module.fail_json(msg="new_master_key must start with sk- and be at least 20 characters")
    try:
        connection = Connection(module.params)
        if module.params["state"] == "verified":
            waited = verify(
                connection.api,
                new_key,
                module.params["refused_keys"],
                module.params["wait_timeout"],
            )
            module.exit_json(changed=False, url=connection.url, waited=round(waited, 1))
        if new_key == connection.api.key:
            module.fail_json(msg="new_master_key is the current master key")
        if not module.check_mode:
            connection.api.rotate_master_key(new_key)
    except (ConnectionError_, LiteLLMError) as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(changed=True, url=connection.url)


if __name__ == "__main__":
    main()
