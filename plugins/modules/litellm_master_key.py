#!/usr/bin/python
# Copyright: litemaas-controller developers
# MIT License
"""litellm_master_key: rotate LiteLLM's master key through the proxy, or check which key works."""

DOCUMENTATION = r"""
module: litellm_master_key
short_description: Rotate the LiteLLM master key through the proxy, resumably, and check keys against it
version_added: 0.2.0
description:
  - With O(state=rotated), rotates the master key of the instance in O(namespace) as a journaled
    state machine that is safe to kill anywhere and run again. The old and the new key and the
    stage reached are kept in Secret C(litellm-master-key-rotation) (the journal), each stage
    written before the step that leaves it; C(/key/regenerate) re-encrypts every stored model
    credential with the new key (no enterprise licence needed); then C(litellm-secret)
    (C(LITELLM_MASTER_KEY)) and, when it exists, C(backend-secret) (C(litellm-api-key)) get the new
    key. Returns the Deployments the caller must roll (the running proxy keeps the B(old) key until
    it restarts with the new one).
  - A run that finds a journal resumes from it and never calls C(/key/regenerate) blindly a second
    time. When the journal says it may have been in flight, the module establishes from the proxy
    and its database whether it took effect (a canary deployment planted before, read back after
    the proxy reloads its stored rows); when that cannot be established it fails saying what to
    check.
  - With O(state=completed), after the rollout, waits until the new key is accepted and the old
    one refused, removes the canaries, sends one request to every stored model, and only then
    deletes the journal. Without a journal it changes nothing.
  - With O(state=verified), checks that O(new_master_key) is accepted and, when O(refused_keys) are
    given, that each of them is refused (HTTP 401), retrying for O(wait_timeout) seconds while the
    proxy restarts. Changes nothing.
  - Test seam, not for production use, when the environment variable E(LITEMAAS_TEST_KILL_AT) names
    a point (C(before-journal), C(after-journal), C(before-regenerate), C(regenerate),
    C(before-secret), C(before-rollout)) the module SIGKILLs its run there (the process group of
    the C(ansible-playbook) that started it, then its own).
  - Do not combine with C(LITELLM_SALT_KEY); LiteLLM then encrypts with the salt key and this rotation
    breaks stored credentials.
  - No key is ever returned or logged.
author:
  - litemaas-controller developers
extends_documentation_fragment:
  - rhpds.litemaas.litellm
options:
  state:
    description:
      - V(rotated) rotates or resumes a rotation up to the rollout; V(completed) finishes it after the
        rollout; V(verified) only checks keys.
      - V(rotated) and V(completed) need O(namespace) (the journal and the Secrets live there).
    type: str
    choices: [rotated, completed, verified]
    default: rotated
  new_master_key:
    description:
      - With O(state=verified), the key that must be accepted. Never logged.
    type: str
  refused_keys:
    description:
      - With O(state=verified), keys that must be refused (the old master key). Never logged.
    type: list
    elements: str
    default: []
  wait_timeout:
    description:
      - With O(state=verified) or O(state=completed), how long to wait for the proxy to accept the
        new key and refuse the old ones (a restart takes a while).
    type: int
    default: 300
seealso:
  - module: rhpds.litemaas.litellm_info
"""  # noqa: E501 (documentation prose)

EXAMPLES = r"""
- name: Rotate, or resume an interrupted rotation
  rhpds.litemaas.litellm_master_key:
    namespace: litemaas
  register: rotation

- name: Roll what rotation.roll names, then finish
  rhpds.litemaas.litellm_master_key:
    namespace: litemaas
    state: completed

- name: After a restart, the new key works and the old one is refused
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
roll:
  description: The Deployments to roll so they load the new key (O(state=rotated)).
  returned: state=rotated
  type: list
  elements: str
  sample: [litellm, backend]
resumed:
  description: A journal from an interrupted run was found and resumed.
  returned: state=rotated
  type: bool
  sample: false
regenerated:
  description: This run called C(/key/regenerate).
  returned: state=rotated
  type: bool
  sample: true
evidence:
  description: What the resume established about an earlier C(/key/regenerate), or empty.
  returned: state=rotated
  type: str
  sample: "the proxy runs with the old key and reads the journaled canary as ciphertext: ..."
models:
  description: The stored models probed after the rotation (names and V(works) only).
  returned: state=completed
  type: list
  elements: dict
  sample: [{name: granite, works: true}]
waited:
  description: Seconds spent waiting for the proxy (O(state=verified) or O(state=completed)).
  returned: state=verified or state=completed
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
from ansible_collections.rhpds.litemaas.plugins.module_utils.litellm_failure import fail
from ansible_collections.rhpds.litemaas.plugins.module_utils.litellm_rotation import (
    Rotation,
    RotationError,
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
            state=dict(type="str", choices=["rotated", "completed", "verified"], default="rotated"),
            new_master_key=dict(type="str", no_log=True),
            refused_keys=dict(type="list", elements="str", default=[], no_log=True),
            wait_timeout=dict(type="int", default=300),
        ),
        required_if=[
            ("state", "verified", ["new_master_key"]),
            ("state", "rotated", ["namespace"]),
            ("state", "completed", ["namespace"]),
        ],
        supports_check_mode=True,
    )
    try:
        connection = Connection(module.params)
        if module.params["state"] == "verified":
            module.exit_json(changed=False, url=connection.url, **verified(module, connection))
        rotation = Rotation(
            connection.kube, connection.api, connection.namespace, module.check_mode
        )
        if module.params["state"] == "rotated":
            result = rotated(rotation)
        else:
            result = completed(rotation, module.params["wait_timeout"])
    except (ConnectionError_, LiteLLMError, RotationError) as exc:
        fail(module, exc)
    module.exit_json(url=connection.url, **result)


def verified(module, connection):
    new_key = module.params["new_master_key"]
    waited = verify(
        connection.api, new_key, module.params["refused_keys"], module.params["wait_timeout"]
    )
    return dict(waited=round(waited, 1))


def rotated(rotation):
    roll = rotation.rotate()
    return dict(
        changed=True,
        roll=roll,
        resumed=rotation.resumed,
        regenerated=rotation.regenerated_now,
        evidence=rotation.evidence,
    )


def completed(rotation, wait_timeout):
    started = time.monotonic()
    models = rotation.complete(wait_timeout, verify)
    if models is None:
        return dict(changed=False, models=[], waited=0.0)
    return dict(
        changed=True,
        models=[dict(name=m["name"], works=m["works"]) for m in models],
        waited=round(time.monotonic() - started, 1),
    )


if __name__ == "__main__":
    main()
