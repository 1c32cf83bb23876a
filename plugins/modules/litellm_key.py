#!/usr/bin/python
# Copyright: litemaas-controller developers
# MIT License
"""litellm_key: a LiteLLM virtual key per alias, its value only in a Kubernetes Secret."""

DOCUMENTATION = r"""
module: litellm_key
short_description: Create, rotate or delete a LiteLLM virtual key, written only to a Kubernetes Secret
version_added: 0.2.0
description:
  - Manages one virtual key of a LiteLLM proxy, identified by its O(alias) (LiteLLM keeps aliases
    unique).
  - The key's value is written only into the Kubernetes Secret O(secret_name) (keys C(OPENAI_API_KEY)
    and C(OPENAI_BASE_URL), so an application can take it with C(envFrom)); it is never returned or
    logged. The module returns the key's hash (LiteLLM's C(token)), its masked name and the Secret's
    name.
  - Refuses models the proxy does not serve (LiteLLM itself accepts any name, and every request with
    the key would then fail). Keys name B(public) model names.
  - A second run changes nothing; it updates O(models), O(max_budget) and O(user_id) in place when they
    differ. O(duration) applies when a key is issued (created or rotated).
  - O(rotate=true) issues a new key, writes it to the Secret, checks the proxy accepts it, deletes the
    old key and checks the old value is refused (LiteLLM's own regeneration of virtual keys is an
    enterprise feature). An interrupted rotation is completed by the next run.
  - If the alias exists but its value is not in the Secret (the Secret was deleted), a key created by
    this module is re-issued; a key created elsewhere with that alias is left alone and the module fails.
  - Supports check mode.
author:
  - litemaas-controller developers
extends_documentation_fragment:
  - rhpds.litemaas.litellm
options:
  alias:
    description:
      - The key's alias, its identity. C(<alias>.rotating) is used briefly during a rotation.
    type: str
    required: true
  state:
    description:
      - V(present) makes sure the key exists (and matches O(models), O(max_budget), O(user_id)) and its
        value is in the Secret; V(absent) deletes the key and the Secret (only a Secret it created).
    type: str
    choices: [present, absent]
    default: present
  rotate:
    description:
      - Replace the key by a new one (every run with this set is a change). Options not given are
        taken from the old key (models, user, budget).
    type: bool
    default: false
  user_id:
    description:
      - The LiteLLM user the key belongs to (spend is tracked per user).
    type: str
  models:
    description:
      - Public model names the key may use. An empty list means every model.
      - Omitted, an existing key keeps its models (a new key gets every model).
    type: list
    elements: str
  max_budget:
    description:
      - Maximum spend in USD (LiteLLM enforces it about 10 seconds late, because spend is
        written asynchronously).
    type: float
  duration:
    description:
      - Lifetime of a newly issued key, as LiteLLM takes it (C(30d), C(12h)). Omitted means no expiry.
    type: str
  secret_name:
    description:
      - Name of the Kubernetes Secret that receives C(OPENAI_API_KEY) and C(OPENAI_BASE_URL).
        Required to create a key; with O(state=absent) the Secret is deleted too.
      - The key records it (C(metadata.litemaas_secret)), so a later rotation or deletion may give only
        O(alias).
      - The module creates this Secret and marks it as its own with the annotation
        C(litemaas.rhpds.io/virtual-key=<alias>). It never replaces, uses or deletes a Secret it did
        not create for this alias; naming an existing Secret without that annotation fails and leaves
        the Secret as it was (with O(state=absent) the key is deleted, the Secret is left and a
        warning says so). The instance's own Secrets (C(litellm-secret), C(postgres-secret),
        C(backend-secret), C(litellm-master-key-rotation)) are refused outright.
      - Writes are optimistic (the replace carries the resourceVersion that was checked; a 409
        Conflict makes the module read, check and try again), so a concurrent edit is never lost.
    type: str
  secret_namespace:
    description:
      - Namespace of O(secret_name); defaults to O(namespace).
    type: str
  base_url:
    description:
      - The C(OPENAI_BASE_URL) written to the Secret. Defaults to the LiteLLM URL the module uses plus
        C(/v1).
    type: str
  check_models:
    description:
      - Refuse O(models) that the proxy does not serve (C(/v1/models)).
    type: bool
    default: true
seealso:
  - module: rhpds.litemaas.litellm_model
  - module: rhpds.litemaas.litellm_info
"""  # noqa: E501 (documentation prose)

EXAMPLES = r"""
- name: A key for team-a's app, written to Secret team-a-llm in the instance namespace
  rhpds.litemaas.litellm_key:
    namespace: litemaas
    alias: team-a-app
    user_id: team-a
    models: [llama-3-8b]
    max_budget: 50
    duration: 30d
    secret_name: team-a-llm

- name: Rotate it (new key in the Secret, old key refused)
  rhpds.litemaas.litellm_key:
    namespace: litemaas
    alias: team-a-app
    user_id: team-a
    models: [llama-3-8b]
    secret_name: team-a-llm
    rotate: true

- name: Delete the key and its Secret
  rhpds.litemaas.litellm_key:
    namespace: litemaas
    alias: team-a-app
    secret_name: team-a-llm
    state: absent
"""

RETURN = r"""
alias:
  description: The key's alias.
  returned: always
  type: str
  sample: team-a-app
action:
  description: What was (or in check mode would be) done.
  returned: always
  type: str
  choices: [created, updated, rotated, reissued, deleted, none]
  sample: rotated
key:
  description: The key as LiteLLM describes it, without its value.
  returned: state=present
  type: dict
  contains:
    alias: {description: Alias., type: str, sample: team-a-app}
    token: {description: LiteLLM's hash of the key (SHA-256)., type: str, sample: fd7e1c7f75c99d6dd328ec7383c043c4...}
    key_name: {description: The masked key LiteLLM shows., type: str, sample: sk-...wgnw}
    user_id: {description: Owner., type: str, sample: team-a}
    models: {description: Public model names., type: list, elements: str, sample: [llama-3-8b]}
    max_budget: {description: Budget in USD., type: float, sample: 50.0}
    spend: {description: Spend so far in USD., type: float, sample: 0.0}
    expires: {description: Expiry time or null., type: str, sample: "2026-12-26T04:47:23Z"}
secret:
  description: Where the key's value is.
  returned: when O(secret_name) is given
  type: dict
  sample: {namespace: litemaas, name: team-a-llm}
changed_fields:
  description: Key attributes updated in place.
  returned: when the key existed
  type: list
  elements: str
deleted_tokens:
  description: Hashes of keys deleted (old keys of a rotation, strays of an interrupted one).
  returned: always
  type: list
  elements: str
"""  # noqa: E501 (documentation prose)

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.rhpds.litemaas.plugins.module_utils.litellm_api import LiteLLMError
from ansible_collections.rhpds.litemaas.plugins.module_utils.litellm_connection import (
    Connection,
    ConnectionError_,
    connection_args,
)
from ansible_collections.rhpds.litemaas.plugins.module_utils.litellm_failure import fail
from ansible_collections.rhpds.litemaas.plugins.module_utils.litellm_keys import (
    KeyError_,
    KeyManager,
)
from ansible_collections.rhpds.litemaas.plugins.module_utils.litellm_secret_refs import (
    SecretRefError,
)


def main():
    module = AnsibleModule(
        argument_spec=connection_args(
            alias=dict(type="str", required=True),
            state=dict(type="str", choices=["present", "absent"], default="present"),
            rotate=dict(type="bool", default=False),
            user_id=dict(type="str"),
            models=dict(type="list", elements="str"),
            max_budget=dict(type="float"),
            duration=dict(type="str"),
            secret_name=dict(type="str"),
            secret_namespace=dict(type="str"),
            base_url=dict(type="str"),
            check_models=dict(type="bool", default=True),
        ),
        supports_check_mode=True,
    )
    manager = None
    try:
        connection = Connection(module.params)
        manager = KeyManager(
            connection.api,
            lambda: connection.kube,
            module.params,
            module.check_mode,
            connection.namespace,
            connection.url,
        )
        result = manager.present() if module.params["state"] == "present" else manager.absent()
    except (ConnectionError_, LiteLLMError, KeyError_, SecretRefError) as exc:
        fail(module, exc)
    for warning in manager.warnings:
        module.warn(warning)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
