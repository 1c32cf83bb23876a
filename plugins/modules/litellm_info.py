#!/usr/bin/python
# Copyright: litemaas-controller developers
# MIT License
"""litellm_info: what an instance's LiteLLM serves, and its keys, without any credential."""

DOCUMENTATION = r"""
module: litellm_info
short_description: List the models and virtual keys of a LiteLLM proxy, without credentials
version_added: 0.2.0
description:
  - Returns the model deployments (public name, id, api_base, upstream model, mode, limits) and the
    virtual keys (alias, hash, user, models, spend, budget, expiry) of a LiteLLM proxy.
  - Never returns a credential. Upstream API keys are not returned by LiteLLM at all; virtual keys
    appear only as their hash (C(token)) and masked name.
  - With O(probe=true) it sends one tiny request of each model's mode through the proxy with the
    master key, proving that the stored model credentials still decrypt and work (after a master-key
    rotation, for example). This makes one request per model to each upstream and nothing else.
author:
  - litemaas-controller developers
extends_documentation_fragment:
  - rhpds.litemaas.litellm
options:
  gather:
    description:
      - What to return.
    type: list
    elements: str
    choices: [models, keys]
    default: [models, keys]
  probe:
    description:
      - Send one request per model through the proxy and report C(works) and C(error) per model.
    type: bool
    default: false
  probe_models:
    description:
      - Only probe these public model names (default every model).
    type: list
    elements: str
seealso:
  - module: rhpds.litemaas.litellm_model
  - module: rhpds.litemaas.litellm_key
"""

EXAMPLES = r"""
- name: What does the instance serve?
  rhpds.litemaas.litellm_info:
    namespace: litemaas
  register: litellm

- name: Every stored model still answers
  rhpds.litemaas.litellm_info:
    namespace: litemaas
    gather: [models]
    probe: true
  register: probed
  failed_when: probed.models | rejectattr('works') | list | length > 0
"""

RETURN = r"""
url:
  description: The LiteLLM URL used (from O(url), or the instance's Route or Ingress).
  returned: always
  type: str
  sample: https://litellm-litemaas.apps.example.com
models:
  description: Model deployments.
  returned: when C(models) is gathered
  type: list
  elements: dict
  contains:
    name: {description: Public model name., type: str, sample: llama-3-8b}
    id: {description: Deployment id., type: str, sample: litemaas-3f1c9e0a2b4d6f8091a2b3c4}
    api_base: {description: Upstream base URL., type: str, sample: http://vllm:8000/v1}
    upstream_model: {description: Upstream model id., type: str, sample: meta-llama/Llama-3-8B}
    provider: {description: LiteLLM provider prefix., type: str, sample: openai}
    mode: {description: chat, completion or embedding., type: str, sample: chat}
    rpm: {description: Requests per minute limit., type: int, sample: 120}
    tpm: {description: Tokens per minute limit., type: int, sample: null}
    managed: {description: Managed by rhpds.litemaas.litellm_model., type: bool, sample: true}
    stored_in_db: {description: Stored in LiteLLM's database (not its config file)., type: bool, sample: true}
    works: {description: The probe succeeded (with O(probe))., type: bool, sample: true}
    error: {description: Why the probe failed (with O(probe))., type: str, sample: ""}
public_models:
  description: The public model names the proxy serves (C(/v1/models)).
  returned: when C(models) is gathered
  type: list
  elements: str
  sample: [llama-3-8b]
keys:
  description: Virtual keys, without values.
  returned: when C(keys) is gathered
  type: list
  elements: dict
  contains:
    alias: {description: Alias., type: str, sample: team-a-app}
    token: {description: LiteLLM's hash of the key., type: str, sample: fd7e1c7f...}
    key_name: {description: Masked key., type: str, sample: sk-...wgnw}
    user_id: {description: Owner., type: str, sample: team-a}
    models: {description: Public model names allowed., type: list, elements: str, sample: [llama-3-8b]}
    max_budget: {description: Budget in USD., type: float, sample: 50.0}
    spend: {description: Spend in USD., type: float, sample: 1.25}
    expires: {description: Expiry or null., type: str, sample: null}
"""  # noqa: E501 (documentation prose)

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.rhpds.litemaas.plugins.module_utils.litellm_api import LiteLLMError
from ansible_collections.rhpds.litemaas.plugins.module_utils.litellm_connection import (
    Connection,
    ConnectionError_,
    connection_args,
)
from ansible_collections.rhpds.litemaas.plugins.module_utils.litellm_keys import (
    summary as key_summary,
)
from ansible_collections.rhpds.litemaas.plugins.module_utils.litellm_models import (
    probe_models,
)
from ansible_collections.rhpds.litemaas.plugins.module_utils.litellm_models import (
    summary as model_summary,
)


def main():
    module = AnsibleModule(
        argument_spec=connection_args(
            gather=dict(
                type="list", elements="str", choices=["models", "keys"], default=["models", "keys"]
            ),
            probe=dict(type="bool", default=False),
            probe_models=dict(type="list", elements="str"),
        ),
        supports_check_mode=True,
    )
    result = dict(changed=False)
    try:
        connection = Connection(module.params)
        api = connection.api
        result["url"] = connection.url
        if "models" in module.params["gather"]:
            if module.params["probe"]:
                result["models"] = probe_models(api, module.params["probe_models"])
            else:
                result["models"] = [model_summary(d) for d in api.deployments()]
            result["public_models"] = api.public_model_names()
        if "keys" in module.params["gather"]:
            result["keys"] = [key_summary(k) for k in api.all_keys()]
    except (ConnectionError_, LiteLLMError) as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
