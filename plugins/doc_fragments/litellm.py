# Copyright: litemaas-controller developers
# MIT License
"""Options every rhpds.litemaas LiteLLM module shares: how to reach the instance's LiteLLM."""


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  url:
    description:
      - Base URL of the LiteLLM proxy, for example C(https://litellm-litemaas.apps.example.com).
      - Required unless O(namespace) is given; with O(namespace) it overrides the URL read from the
        instance's Route or Ingress (useful inside the cluster, C(http://litellm.<namespace>.svc:4000)).
      - Falls back to the environment variable E(LITELLM_URL).
    type: str
  master_key:
    description:
      - The LiteLLM master key. Never logged.
      - Required unless O(namespace) is given, in which case it is read from the key
        C(LITELLM_MASTER_KEY) of Secret C(litellm-secret) in that namespace.
    type: str
  namespace:
    description:
      - Namespace of a LiteMaaS instance deployed by this collection. The master key is read from
        Secret C(litellm-secret) and the URL from Route C(litellm) (OpenShift, C(https://) when the
        Route has TLS) or Ingress C(litellm) (plain Kubernetes).
      - Also the default namespace of Kubernetes Secrets the module reads or writes.
    type: str
  kubeconfig:
    description:
      - Path to a kubeconfig for the Kubernetes API. Without it the in-cluster service account is
        used when running in a pod, else C(~/.kube/config).
      - Falls back to the environment variable E(K8S_AUTH_KUBECONFIG), like kubernetes.core.
    type: path
  context:
    description:
      - The kubeconfig context to use. Falls back to E(K8S_AUTH_CONTEXT).
    type: str
  validate_certs:
    description:
      - Whether to verify LiteLLM's TLS certificate. Set O(ca_path) rather than disabling this.
    type: bool
    default: true
  ca_path:
    description:
      - A PEM file with the CA(s) that signed LiteLLM's certificate (for example the OpenShift
        ingress CA).
    type: path
  timeout:
    description:
      - Seconds to wait for each HTTP request. Standard proxy variables (E(https_proxy),
        E(no_proxy)) are honoured.
    type: int
    default: 60
attributes:
  action_group:
    description:
      - Set the options above once for every LiteLLM module with C(module_defaults) and the group
        C(group/rhpds.litemaas.litellm).
    support: full
    membership:
      - rhpds.litemaas.litellm
requirements:
  - Python 3.6 or newer on the host that runs the module (checked by C(make lint))
  - kubernetes (Python client) when O(namespace) is used or a module writes a Secret
notes:
  - Tested with LiteLLM 1.108.7; the admin endpoints used (C(/model/new), C(/model/info),
    C(PATCH /model/{id}/update), C(/model/delete), C(/key/generate), C(/key/list), C(/key/update),
    C(/key/delete), C(/key/info), C(/key/regenerate) for the master key) exist from 1.74.7 (the image
    the 0.1.2 collection deploys) through 1.81.0 (upstream LiteMaaS 0.2+) to 1.108.7.
"""  # noqa: E501 (documentation prose)
