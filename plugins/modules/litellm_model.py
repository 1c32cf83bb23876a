#!/usr/bin/python
# Copyright: litemaas-controller developers
# MIT License
"""litellm_model: register, update or remove a model in an instance's LiteLLM, exactly once."""

DOCUMENTATION = r"""
module: litellm_model
short_description: Register, update or remove a model in LiteLLM, idempotently
version_added: 0.2.0
description:
  - Makes one public model name of a LiteLLM proxy point at one OpenAI-compatible upstream (vLLM,
    OpenShift AI model servers, or any C(/v1) API).
  - Idempotent by construction, unlike LiteLLM's own C(/model/new), which adds another load-balanced
    deployment for every call. The deployment the module manages has a stable id derived from the
    public name (C(litemaas-<hash>)); a second run finds it and changes only what differs
    (O(api_base), O(upstream_model), O(mode), O(rpm), O(tpm), O(api_key)).
  - LiteLLM stores the upstream API key encrypted and never returns it. To detect a changed key the
    deployment carries a salted fingerprint (PBKDF2-SHA256, salt = the model id) in
    C(model_info.litemaas_api_key_fingerprint); the key itself is never logged or returned.
  - Without O(upstream_model) the module asks the upstream (C(GET <api_base>/models)) and uses the one
    model it serves (or the one named like O(name)). Before it creates or repoints a deployment it
    proves the upstream with one tiny request of the O(mode) (disable with O(verify=false)).
  - Supports check mode (reports what would change, changes nothing) and diff mode.
author:
  - litemaas-controller developers
extends_documentation_fragment:
  - rhpds.litemaas.litellm
options:
  name:
    description:
      - The public model name clients use (the C(model) of their requests, and what virtual keys list).
    type: str
    required: true
  state:
    description:
      - V(present) creates or updates the deployment; V(absent) removes every stored deployment with
        this public name (deployments from LiteLLM's config file cannot be removed and are reported).
    type: str
    choices: [present, absent]
    default: present
  api_base:
    description:
      - Base URL of the upstream's OpenAI-compatible API, usually ending in C(/v1).
      - With O(state=present) exactly one of O(api_base) and O(inference_service) is required.
    type: str
  inference_service:
    description:
      - The upstream as a KServe InferenceService (C(serving.kserve.io/v1beta1), how OpenShift AI
        serves models) instead of O(api_base). The module reads it and uses the URL in its status
        plus C(/v1), the OpenAI-compatible path of OpenShift AI's vLLM runtime, as O(api_base).
      - The InferenceService must have the condition C(Ready) C(True); a missing or not Ready one
        fails the task (C(failure_kind=permanent)) and registers nothing.
      - The status URL is data from the cluster. It is used only when it is an http or https URL
        with a host and nothing after it (no user info, path, query or control character), and
        only on a host O(upstream_allow) admits.
      - Reading it needs C(get) on C(inferenceservices.serving.kserve.io) in its namespace.
    type: dict
    suboptions:
      name:
        description: The InferenceService's name (a DNS-1123 label).
        type: str
        required: true
      namespace:
        description: Its namespace (a DNS-1123 label), usually not the instance's.
        type: str
        required: true
      address:
        description:
          - V(cluster) reads C(status.address.url), the address inside the cluster
            (C(http://<name>-predictor.<namespace>.svc.cluster.local)), which LiteLLM's pod
            reaches; V(external) reads C(status.url), the URL KServe publishes (a Route or
            Ingress when the model is exposed), for a module that runs outside the cluster.
        type: str
        choices: [cluster, external]
        default: cluster
  api_key:
    description:
      - The upstream's API key. Never logged. Omit for an upstream without authentication.
    type: str
  api_key_secret:
    description:
      - Read the upstream's API key from a Kubernetes Secret instead of passing it (the way messages
        and playbooks pass secrets, by reference). Mutually exclusive with O(api_key).
      - The Secret must carry the label C(litemaas.rhpds.io/allow-message-ref=true) (whoever hands
        out the upstream's key labels its Secret), and may never be one of the instance's own
        (C(litellm-secret), C(postgres-secret), C(backend-secret), C(litellm-master-key-rotation));
        a name alone never makes the module send another Secret's value to an upstream.
    type: dict
    suboptions:
      name:
        description: Secret name.
        type: str
        required: true
      key:
        description: The key in the Secret's data.
        type: str
        required: true
      namespace:
        description: The Secret's namespace; defaults to O(namespace).
        type: str
  upstream_model:
    description:
      - The upstream's model id. Discovered from C(<api_base>/models) when omitted.
    type: str
  provider:
    description:
      - The LiteLLM provider prefix of the upstream model (C(openai) for any OpenAI-compatible server,
        C(hosted_vllm) for vLLM-specific handling).
    type: str
    default: openai
  mode:
    description:
      - What the model does; decides the probe request and LiteLLM's C(model_info.mode).
    type: str
    choices: [chat, completion, embedding]
    default: chat
  rpm:
    description:
      - Requests per minute LiteLLM allows to this deployment. Omitted means no limit.
    type: int
  tpm:
    description:
      - Tokens per minute LiteLLM allows to this deployment. Omitted means no limit.
    type: int
  verify:
    description:
      - Send one request of O(mode) straight to the upstream before creating or repointing the
        deployment, and refuse to register a model that does not answer.
    type: bool
    default: true
  replace_unmanaged:
    description:
      - When the public name already has deployments this module did not create (for example added
        in the LiteLLM UI), replace them. Without it the module refuses, because adding another
        deployment would silently load-balance across both.
    type: bool
    default: false
  upstream_validate_certs:
    description:
      - Whether to verify the upstream's TLS certificate when discovering and probing.
    type: bool
    default: true
  upstream_ca_path:
    description:
      - CA bundle for the upstream's certificate.
    type: path
  upstream_allow:
    description:
      - Hosts O(api_base) may point at; the module refuses any other before it reads or sends the
        upstream's key. Entries are host names (exact), domains (C(*.example.com) or
        C(.example.com), any name under it), IP addresses and CIDR networks (C(10.0.0.0/8),
        C(fd00::/8)). Names are not resolved, so a network admits only an O(api_base) written
        with an IP address.
      - Empty (the default) admits any host. The controller passes its C(LITEMAAS_UPSTREAM_ALLOW).
      - Redirects from the upstream are never followed, so the key goes only to O(api_base).
    type: list
    elements: str
    default: []
seealso:
  - module: rhpds.litemaas.litellm_key
  - module: rhpds.litemaas.litellm_info
"""  # noqa: E501 (documentation prose)

EXAMPLES = r"""
- name: Register a vLLM model for the instance in namespace litemaas
  rhpds.litemaas.litellm_model:
    namespace: litemaas
    name: llama-3-8b
    api_base: https://llama-3-8b-predictor.models.svc:8443/v1
    api_key_secret:
      name: llama-creds
      key: token
    mode: chat
    rpm: 120

- name: Register the model an OpenShift AI InferenceService serves (URL from its status)
  rhpds.litemaas.litellm_model:
    namespace: litemaas
    name: granite-8b-instruct
    inference_service:
      name: granite-8b
      namespace: rhoai-models
    api_key_secret:
      name: granite-8b-token
      key: token

- name: Register against any LiteLLM with its URL and master key; discover the upstream model
  rhpds.litemaas.litellm_model:
    url: http://127.0.0.1:4000
    master_key: "{{ litellm_master_key }}"
    name: granite
    api_base: http://granite.models.svc:8000/v1
  no_log: true

- name: Remove a model
  rhpds.litemaas.litellm_model:
    namespace: litemaas
    name: granite
    state: absent
"""

RETURN = r"""
model:
  description: The deployment as it is (or would be) after the task. No credential.
  returned: state=present
  type: dict
  contains:
    name: {description: Public model name., type: str, sample: llama-3-8b}
    id: {description: The stable deployment id., type: str, sample: litemaas-3f1c9e0a2b4d6f8091a2b3c4}
    api_base: {description: Upstream base URL., type: str, sample: http://vllm:8000/v1}
    upstream_model: {description: The upstream's model id., type: str, sample: meta-llama/Llama-3-8B}
    provider: {description: LiteLLM provider prefix., type: str, sample: openai}
    mode: {description: chat, completion or embedding., type: str, sample: chat}
    rpm: {description: Requests-per-minute limit or null., type: int, sample: 120}
    tpm: {description: Tokens-per-minute limit or null., type: int, sample: null}
    managed: {description: Created by this collection., type: bool, sample: true}
    stored_in_db: {description: Stored in LiteLLM's database., type: bool, sample: true}
model_id:
  description: The stable deployment id for O(name).
  returned: always
  type: str
  sample: litemaas-3f1c9e0a2b4d6f8091a2b3c4
action:
  description: What was (or in check mode would be) done.
  returned: always
  type: str
  sample: updated
  choices: [created, updated, deleted, none]
changed_fields:
  description: The compared fields that differ (C(api_key) means its fingerprint differs).
  returned: state=present
  type: list
  elements: str
  sample: [api_base, rpm]
replaced:
  description: Ids of unmanaged deployments replaced because of O(replace_unmanaged).
  returned: when any were replaced
  type: list
  elements: str
deleted:
  description: Ids of the deployments removed.
  returned: state=absent
  type: list
  elements: str
"""  # noqa: E501 (documentation prose)

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.rhpds.litemaas.plugins.module_utils.litellm_api import (
    LiteLLMError,
    has_control_chars,
)
from ansible_collections.rhpds.litemaas.plugins.module_utils.litellm_connection import (
    Connection,
    ConnectionError_,
    connection_args,
    secret_text,
)
from ansible_collections.rhpds.litemaas.plugins.module_utils.litellm_failure import (
    PermanentFailure,
    fail,
)
from ansible_collections.rhpds.litemaas.plugins.module_utils.litellm_inference_service import (
    check_ref,
    resolve,
)
from ansible_collections.rhpds.litemaas.plugins.module_utils.litellm_models import (
    ModelError,
    ModelManager,
)
from ansible_collections.rhpds.litemaas.plugins.module_utils.litellm_secret_refs import (
    check_readable,
    refuse_reserved,
)
from ansible_collections.rhpds.litemaas.plugins.module_utils.litellm_upstream_allow import (
    allowed,
)


def check_references(module):
    """Before anything is read or sent: the Secret named is not one of the instance's own, an
    InferenceService is named by valid names, and api_base is on a host upstream_allow admits."""
    p = module.params
    if p["api_key_secret"]:
        refuse_reserved(p["api_key_secret"]["name"], "api_key_secret.name")
    if p["inference_service"]:
        check_ref(p["inference_service"])
    if p["state"] == "present" and p["api_base"]:
        check_allowed(p["api_base"], p["upstream_allow"], "api_base")


def check_allowed(url, entries, what):
    """(The URL is not repeated: it came from outside, or from the cluster.)"""
    if not allowed(url, entries):
        raise PermanentFailure(
            "%s: its host is not one upstream_allow admits (%s), so the upstream's key is not "
            "sent there and the model is not registered" % (what, ", ".join(entries))
        )


def resolve_inference_service(module, connection):
    """api_base from the InferenceService's status, checked like one given by hand."""
    p = module.params
    p["api_base"] = resolve(connection.kube, p["inference_service"])
    check_allowed(p["api_base"], p["upstream_allow"], "the URL in the InferenceService's status")


def read_api_key(module, connection):
    ref = module.params["api_key_secret"]
    namespace = ref.get("namespace") or connection.namespace
    if not namespace:
        raise PermanentFailure(
            "api_key_secret needs a namespace (or the module's namespace option)"
        )
    where = "Secret %s/%s" % (namespace, ref["name"])
    secret = connection.kube.get_secret(namespace, ref["name"])
    if secret is None:
        raise PermanentFailure(
            "%s does not exist: create it with the upstream's API key under key %s, or name "
            "another Secret in api_key_secret" % (where, ref["key"])
        )
    check_readable(secret, namespace, "api_key_secret")
    data = secret_text(secret)
    if not data.get(ref["key"]):
        raise PermanentFailure(
            "%s has no key %s (or it is empty) for the upstream's API key" % (where, ref["key"])
        )
    value = data[ref["key"]]
    module.no_log_values.add(value)
    if has_control_chars(value):
        raise PermanentFailure(
            "the value under key %s of %s holds a line break or another control character (a "
            "trailing newline is common when it is written from 'echo' or a file): store the "
            "key without one" % (ref["key"], where)
        )
    return value


def main():
    module = AnsibleModule(
        argument_spec=connection_args(
            name=dict(type="str", required=True),
            state=dict(type="str", choices=["present", "absent"], default="present"),
            api_base=dict(type="str"),
            inference_service=dict(
                type="dict",
                options=dict(
                    name=dict(type="str", required=True),
                    namespace=dict(type="str", required=True),
                    address=dict(type="str", choices=["cluster", "external"], default="cluster"),
                ),
            ),
            api_key=dict(type="str", no_log=True),
            api_key_secret=dict(
                type="dict",
                options=dict(
                    name=dict(type="str", required=True),
                    key=dict(type="str", required=True, no_log=False),
                    namespace=dict(type="str"),
                ),
            ),
            upstream_model=dict(type="str"),
            provider=dict(type="str", default="openai"),
            mode=dict(type="str", choices=["chat", "completion", "embedding"], default="chat"),
            rpm=dict(type="int"),
            tpm=dict(type="int"),
            verify=dict(type="bool", default=True),
            replace_unmanaged=dict(type="bool", default=False),
            upstream_validate_certs=dict(type="bool", default=True),
            upstream_ca_path=dict(type="path"),
            upstream_allow=dict(type="list", elements="str", default=[]),
        ),
        required_if=[("state", "present", ["api_base", "inference_service"], True)],
        mutually_exclusive=[("api_key", "api_key_secret"), ("api_base", "inference_service")],
        supports_check_mode=True,
    )
    try:
        check_references(module)
        connection = Connection(module.params)
        if module.params["inference_service"] and module.params["state"] == "present":
            resolve_inference_service(module, connection)
        if module.params["api_key_secret"] and module.params["state"] == "present":
            module.params["api_key"] = read_api_key(module, connection)
        manager = ModelManager(connection.api, module.params, module.check_mode)
        result = manager.present() if module.params["state"] == "present" else manager.absent()
    except (ConnectionError_, LiteLLMError, ModelError, PermanentFailure) as exc:
        fail(module, exc)
    for warning in manager.warnings:
        module.warn(warning)
    if not module._diff:
        result.pop("diff", None)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
