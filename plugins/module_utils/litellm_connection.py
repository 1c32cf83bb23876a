# Copyright: litemaas-controller developers
# MIT License
"""How a module reaches an instance's LiteLLM, and the Kubernetes Secrets it reads and writes.

Two ways in (documented in the ``rhpds.litemaas.litellm`` doc fragment):

- ``url`` + ``master_key``: any LiteLLM, no cluster access needed;
- ``namespace`` (+ ``kubeconfig``/``context``): the master key is read from the instance's Secret
  ``litellm-secret`` (key ``LITELLM_MASTER_KEY``) and the URL from its Route ``litellm`` (OpenShift)
  or Ingress ``litellm`` (plain Kubernetes). ``url`` given as well overrides the discovered URL
  (e.g. the in-cluster Service when the task runs inside the cluster).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import traceback

from ansible.module_utils.basic import env_fallback, missing_required_lib
from ansible_collections.rhpds.litemaas.plugins.module_utils.litellm_api import LiteLLM

# The kubernetes client is imported only when a module needs the cluster (namespace mode, Secrets):
# url + master_key runs do not pay for it and do not need it installed.
k8s_client = k8s_config = ApiException = None


def _import_kubernetes():
    global k8s_client, k8s_config, ApiException
    if k8s_client is not None:
        return
    try:
        from kubernetes import client, config
        from kubernetes.client.rest import ApiException as api_exception
    except ImportError:
        raise ConnectionError_(
            missing_required_lib("kubernetes") + "\n" + traceback.format_exc()
        ) from None
    k8s_client, k8s_config, ApiException = client, config, api_exception


LITELLM_SECRET = "litellm-secret"  # noqa: S105 (a Secret name, not a secret)
MASTER_KEY_FIELD = "LITELLM_MASTER_KEY"
ROUTE_NAME = "litellm"

CONNECTION_ARGS = dict(
    url=dict(type="str", fallback=(env_fallback, ["LITELLM_URL"])),
    master_key=dict(type="str", no_log=True),
    namespace=dict(type="str"),
    kubeconfig=dict(type="path", fallback=(env_fallback, ["K8S_AUTH_KUBECONFIG"])),
    context=dict(type="str", fallback=(env_fallback, ["K8S_AUTH_CONTEXT"])),
    validate_certs=dict(type="bool", default=True),
    ca_path=dict(type="path"),
    timeout=dict(type="int", default=60),
)


class ConnectionError_(Exception):
    """The module cannot tell where LiteLLM is or which key to use; the message says why."""


def connection_args(**extra):
    spec = dict((k, dict(v)) for k, v in CONNECTION_ARGS.items())
    spec.update(extra)
    return spec


class Kube:
    """The few Kubernetes calls the modules need, with the ``kubernetes`` Python client."""

    def __init__(self, kubeconfig=None, context=None):
        _import_kubernetes()
        try:
            if kubeconfig or context:
                api = k8s_config.new_client_from_config(config_file=kubeconfig, context=context)
            else:
                try:
                    k8s_config.load_incluster_config()
                    api = k8s_client.ApiClient()
                except k8s_config.ConfigException:
                    api = k8s_config.new_client_from_config()
        except (k8s_config.ConfigException, OSError) as exc:
            raise ConnectionError_("cannot load the Kubernetes configuration: %s" % exc) from None
        self.core = k8s_client.CoreV1Api(api)
        self.custom = k8s_client.CustomObjectsApi(api)
        self.networking = k8s_client.NetworkingV1Api(api)

    def read_secret(self, namespace, name):
        """The Secret's data decoded to text, or ``None`` when it does not exist."""
        try:
            secret = self.core.read_namespaced_secret(name, namespace)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise ConnectionError_(
                _api_error("reading Secret %s/%s" % (namespace, name), exc)
            ) from None
        return dict(
            (k, base64.b64decode(v).decode("utf-8")) for k, v in (secret.data or {}).items()
        )

    def write_secret(self, namespace, name, data, labels=None, check_mode=False):
        """Make the Secret hold exactly ``data``; True when something changed (or would)."""
        current = self.read_secret(namespace, name)
        if current == data:
            return False
        if check_mode:
            return True
        body = k8s_client.V1Secret(
            metadata=k8s_client.V1ObjectMeta(name=name, namespace=namespace, labels=labels or None),
            type="Opaque",
            data=dict(
                (k, base64.b64encode(v.encode("utf-8")).decode("ascii")) for k, v in data.items()
            ),
        )
        try:
            if current is None:
                self.core.create_namespaced_secret(namespace, body)
            else:
                self.core.replace_namespaced_secret(name, namespace, body)
        except ApiException as exc:
            raise ConnectionError_(
                _api_error("writing Secret %s/%s" % (namespace, name), exc)
            ) from None
        return True

    def delete_secret(self, namespace, name, check_mode=False):
        if self.read_secret(namespace, name) is None:
            return False
        if check_mode:
            return True
        try:
            self.core.delete_namespaced_secret(name, namespace)
        except ApiException as exc:
            if exc.status == 404:
                return False
            raise ConnectionError_(
                _api_error("deleting Secret %s/%s" % (namespace, name), exc)
            ) from None
        return True

    def litellm_url(self, namespace):
        """``https://host`` of Route ``litellm`` (OpenShift), else ``http(s)://host`` of Ingress
        ``litellm``."""
        try:
            route = self.custom.get_namespaced_custom_object(
                "route.openshift.io", "v1", namespace, "routes", ROUTE_NAME
            )
        except ApiException as exc:
            if exc.status != 404:
                raise ConnectionError_(
                    _api_error("reading Route %s/litellm" % namespace, exc)
                ) from None
            route = None
        if route:
            spec = route.get("spec") or {}
            host = spec.get("host")
            if host:
                return ("https://" if spec.get("tls") is not None else "http://") + host
        try:
            ingress = self.networking.read_namespaced_ingress(ROUTE_NAME, namespace)
        except ApiException as exc:
            if exc.status != 404:
                raise ConnectionError_(
                    _api_error("reading Ingress %s/litellm" % namespace, exc)
                ) from None
            ingress = None
        if ingress is not None and ingress.spec and ingress.spec.rules:
            host = ingress.spec.rules[0].host
            if host:
                return ("https://" if ingress.spec.tls else "http://") + host
        raise ConnectionError_(
            "no Route or Ingress named litellm with a host in namespace %s: is LiteMaaS deployed "
            "there? Pass url to reach LiteLLM another way." % namespace
        )


def _api_error(what, exc):
    hint = ""
    if exc.status in (401, 403):
        hint = " Check that the kubeconfig's user may do this (RBAC)."
    return "%s failed: %s %s.%s" % (what, exc.status, exc.reason, hint)


class Connection:
    """What a module resolved: the LiteLLM client, the instance namespace and a Kubernetes
    client when one was needed."""

    def __init__(self, params):
        self.params = params
        self.namespace = params.get("namespace")
        self._kube = None
        url = params.get("url")
        master_key = params.get("master_key")
        if self.namespace:
            if not master_key:
                secret = self.kube.read_secret(self.namespace, LITELLM_SECRET)
                if not secret or not secret.get(MASTER_KEY_FIELD):
                    raise ConnectionError_(
                        "Secret %s/%s has no %s: is LiteMaaS deployed in that namespace?"
                        % (self.namespace, LITELLM_SECRET, MASTER_KEY_FIELD)
                    )
                master_key = secret[MASTER_KEY_FIELD]
            if not url:
                url = self.kube.litellm_url(self.namespace)
        if not url or not master_key:
            raise ConnectionError_(
                "say how to reach LiteLLM: either url and master_key, or namespace (the master key "
                "is then read from Secret litellm-secret and the URL from Route/Ingress litellm)"
            )
        self.url = url.rstrip("/")
        self.api = LiteLLM(
            self.url,
            key=master_key,
            validate_certs=params.get("validate_certs", True),
            ca_path=params.get("ca_path"),
            timeout=params.get("timeout"),
        )

    @property
    def kube(self):
        if self._kube is None:
            self._kube = Kube(self.params.get("kubeconfig"), self.params.get("context"))
        return self._kube
