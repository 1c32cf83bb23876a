#!/usr/bin/python
# Copyright: litemaas-controller developers
# MIT License
"""k8s_batch_info: several kubernetes.core.k8s_info reads (and the API groups) in one module run."""

DOCUMENTATION = r"""
module: k8s_batch_info
short_description: Read several kinds of Kubernetes objects, and the served API groups, in one task
version_added: 0.2.0
description:
  - Runs one M(kubernetes.core.k8s_info) read per entry of O(queries), with one client, in one
    module run on the play's host, and returns the objects found under each entry's key.
  - The deploy role reads what it needs this way instead of through C(kubernetes.core.k8s) lookups,
    which run on the Ansible controller, not where the play's host (an AgnosticD bastion) holds the
    kubeconfig; and instead of one M(kubernetes.core.k8s_info) task per kind, each of which starts
    a Python process that imports the Kubernetes client again.
  - A kind the cluster does not serve (a Route on plain Kubernetes) reads as no objects, as
    M(kubernetes.core.k8s_info) does (C(api_found=false)); so does a named object that does not
    exist.
  - Reads only; never changes anything.
author:
  - litemaas-controller developers
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
options:
  queries:
    description:
      - What to read. Each key names the result; each value is one read with the options of
        M(kubernetes.core.k8s_info) of the same names.
    type: dict
    default: {}
  api_groups:
    description:
      - Also return the names of the API groups the cluster serves (API discovery), as the
        C(kubernetes.core.k8s) lookup does with C(cluster_info=api_groups).
    type: bool
    default: false
requirements:
  - Python 3.6 or newer on the host that runs the module (checked by C(make lint))
  - "kubernetes >= 24.2.0"
seealso:
  - module: kubernetes.core.k8s_info
"""

EXAMPLES = r"""
- name: Read the namespace, its Deployments and the StorageClasses
  rhpds.litemaas.k8s_batch_info:
    api_groups: true
    queries:
      namespace: {kind: Namespace, name: litemaas}
      deployments: {api_version: apps/v1, kind: Deployment, namespace: litemaas}
      storage_classes: {api_version: storage.k8s.io/v1, kind: StorageClass}
      jobs:
        api_version: batch/v1
        kind: Job
        namespace: litemaas
        label_selectors: [app.kubernetes.io/component=database-setup]
  register: cluster
"""

RETURN = r"""
resources:
  description: For each key of O(queries), the objects read (an empty list when none).
  returned: always
  type: dict
  sample: {"namespace": [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "lm"}}]}
api_found:
  description: For each key of O(queries), whether the cluster serves that kind.
  returned: always
  type: dict
  sample: {"namespace": true}
api_groups:
  description: The API groups the cluster serves (C("") is the core group).
  returned: when O(api_groups=true)
  type: list
  elements: str
  sample: ["", "apps", "route.openshift.io"]
"""

import copy

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible_collections.kubernetes.core.plugins.module_utils.ansiblemodule import AnsibleModule
from ansible_collections.kubernetes.core.plugins.module_utils.args_common import AUTH_ARG_SPEC
from ansible_collections.kubernetes.core.plugins.module_utils.k8s.client import get_api_client
from ansible_collections.kubernetes.core.plugins.module_utils.k8s.core import AnsibleK8SModule
from ansible_collections.kubernetes.core.plugins.module_utils.k8s.exceptions import CoreException
from ansible_collections.kubernetes.core.plugins.module_utils.k8s.service import K8sService

QUERY_SPEC = dict(
    kind=dict(type="str", required=True),
    api_version=dict(type="str", default="v1"),
    name=dict(type="str"),
    namespace=dict(type="str"),
    label_selectors=dict(type="list", elements="str", default=[]),
    field_selectors=dict(type="list", elements="str", default=[]),
    hidden_fields=dict(type="list", elements="str"),
)


def argspec():
    args = copy.deepcopy(AUTH_ARG_SPEC)
    args.update(
        queries=dict(type="dict", default={}),
        api_groups=dict(type="bool", default=False),
    )
    return args


def check_queries(module):
    """Each query checked against QUERY_SPEC, defaults filled in; a wrong option fails the task."""
    validator = ArgumentSpecValidator(QUERY_SPEC)
    checked = {}
    for key, query in module.params["queries"].items():
        if not isinstance(query, dict):
            module.fail_json(msg="queries.%s must be a mapping, not %r" % (key, query))
        result = validator.validate(query)
        if result.error_messages:
            module.fail_json(msg="queries.%s: %s" % (key, "; ".join(result.error_messages)))
        checked[key] = result.validated_parameters
    return checked


def served_api_groups(client):
    return sorted(client.resources.api_groups)


def main():
    module = AnsibleK8SModule(
        module_class=AnsibleModule, argument_spec=argspec(), supports_check_mode=True
    )
    queries = check_queries(module)
    try:
        client = get_api_client(module)
        service = K8sService(client, module)
        resources, api_found = {}, {}
        for key, query in queries.items():
            found = service.find(
                query["kind"],
                query["api_version"],
                name=query["name"],
                namespace=query["namespace"],
                label_selectors=query["label_selectors"],
                field_selectors=query["field_selectors"],
                hidden_fields=query["hidden_fields"],
            )
            resources[key], api_found[key] = found["resources"], found["api_found"]
        result = dict(changed=False, resources=resources, api_found=api_found)
        if module.params["api_groups"]:
            result["api_groups"] = served_api_groups(client)
        module.exit_json(**result)
    except CoreException as e:
        module.fail_from_exception(e)


if __name__ == "__main__":
    main()
