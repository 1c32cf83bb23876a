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
        from kubernetes import client, config  # noqa: PLC0415 (see above)
        from kubernetes.client.rest import ApiException as api_exception  # noqa: PLC0415
    except ImportError:
        raise ConnectionError_(
            missing_required_lib("kubernetes") + "\n" + traceback.format_exc()
        ) from None
    k8s_client, k8s_config, ApiException = client, config, api_exception


LITELLM_SECRET = "litellm-secret"  # noqa: S105 (a Secret name, not a secret)
MASTER_KEY_FIELD = "LITELLM_MASTER_KEY"
#: the deploy role's Secret with LITELLM_SALT_KEY, kept apart from the master key: LiteLLM encrypts
#: stored model credentials with it (docs/repair.md)
SALT_SECRET = "litellm-salt-key"  # noqa: S105 (a Secret name, not a secret)
ROUTE_NAME = "litellm"
#: reads, checks and writes of one Secret tried before giving up when it keeps changing
CONFLICT_RETRIES = 5

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

    def get_secret(self, namespace, name):
        """The Secret as the API server has it (``V1Secret``), or ``None`` when it does not
        exist."""
        try:
            return self.core.read_namespaced_secret(name, namespace)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise ConnectionError_(
                _api_error("reading Secret %s/%s" % (namespace, name), exc)
            ) from None

    def get_custom(self, group, version, namespace, plural, name):
        """A custom resource as JSON, or ``None`` when it (or its API) does not exist."""
        try:
            return self.custom.get_namespaced_custom_object(group, version, namespace, plural, name)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise ConnectionError_(
                _api_error("reading %s %s/%s" % (plural, namespace, name), exc)
            ) from None

    def read_secret(self, namespace, name):
        """The Secret's data decoded to text, or ``None`` when it does not exist."""
        secret = self.get_secret(namespace, name)
        return None if secret is None else secret_text(secret)

    def write_secret(
        self, namespace, name, data, labels=None, annotations=None, check_mode=False, check=None
    ):
        """Make the Secret hold exactly ``data`` and carry ``labels`` and ``annotations`` (its
        other labels and annotations stay); True when something changed (or would).

        ``check(secret)`` sees an existing Secret first and raises to leave it alone. The write is
        optimistic: the replace carries the resourceVersion that was checked, so an edit made
        meanwhile (409 Conflict) is never overwritten; the module reads, checks and tries again.
        """
        for _ in range(CONFLICT_RETRIES):
            current = self.get_secret(namespace, name)
            if current is not None and check is not None:
                check(current)
            if current is not None and _holds(current, data, labels, annotations):
                return False
            if check_mode:
                return True
            body = _secret_body(namespace, name, data, labels, annotations, current)
            try:
                if current is None:
                    self.core.create_namespaced_secret(namespace, body)
                else:
                    self.core.replace_namespaced_secret(name, namespace, body)
                return True
            except ApiException as exc:
                if exc.status != 409:
                    raise ConnectionError_(
                        _api_error("writing Secret %s/%s" % (namespace, name), exc)
                    ) from None
        raise ConnectionError_(_kept_changing("writing", namespace, name))

    def delete_secret(self, namespace, name, check_mode=False, check=None):
        """Delete the Secret; True when it was deleted (or would be). ``check(secret)`` returns
        False to leave an existing Secret alone. The delete has the checked uid and
        resourceVersion as preconditions, so a Secret changed or replaced meanwhile is checked
        again, never deleted unseen."""
        for _ in range(CONFLICT_RETRIES):
            current = self.get_secret(namespace, name)
            if current is None or (check is not None and not check(current)):
                return False
            if check_mode:
                return True
            seen = k8s_client.V1Preconditions(
                uid=current.metadata.uid, resource_version=current.metadata.resource_version
            )
            try:
                self.core.delete_namespaced_secret(
                    name, namespace, body=k8s_client.V1DeleteOptions(preconditions=seen)
                )
                return True
            except ApiException as exc:
                if exc.status == 404:
                    return False
                if exc.status != 409:
                    raise ConnectionError_(
                        _api_error("deleting Secret %s/%s" % (namespace, name), exc)
                    ) from None
        raise ConnectionError_(_kept_changing("deleting", namespace, name))

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


def secret_text(secret):
    """A ``V1Secret``'s data decoded to text."""
    return dict((k, base64.b64decode(v).decode("utf-8")) for k, v in (secret.data or {}).items())


def _holds(secret, data, labels, annotations):
    meta = secret.metadata
    return (
        secret_text(secret) == data
        and _includes(meta.labels, labels)
        and _includes(meta.annotations, annotations)
    )


def _includes(present, wanted):
    present = present or {}
    return all(present.get(k) == v for k, v in (wanted or {}).items())


def _secret_body(namespace, name, data, labels, annotations, current):
    """The Secret to create, or to replace ``current`` with (at its resourceVersion)."""
    meta = current.metadata if current is not None else None
    return k8s_client.V1Secret(
        metadata=k8s_client.V1ObjectMeta(
            name=name,
            namespace=namespace,
            labels=_merged(meta.labels if meta else None, labels),
            annotations=_merged(meta.annotations if meta else None, annotations),
            resource_version=meta.resource_version if meta else None,
        ),
        type=current.type if current is not None else "Opaque",
        data=dict(
            (k, base64.b64encode(v.encode("utf-8")).decode("ascii")) for k, v in data.items()
        ),
    )


def _merged(present, wanted):
    merged = dict(present or {})
    merged.update(wanted or {})
    return merged or None


def _kept_changing(what, namespace, name):
    return (
        "%s Secret %s/%s: it changed under the module %d times in a row (409 Conflict); "
        "something else keeps writing it. Run again once it is quiet."
        % (what, namespace, name, CONFLICT_RETRIES)
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
