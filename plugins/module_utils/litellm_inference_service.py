# Copyright: litemaas-controller developers
# MIT License
"""A model's upstream named by its KServe InferenceService (``serving.kserve.io/v1beta1``) instead
of by URL: the URL is read from the InferenceService's status, as KServe documents it.

- ``status.address.url``: the address inside the cluster
  (``http://<name>-predictor.<namespace>.svc.cluster.local``), where LiteLLM's pod sends requests
  (``address: cluster``, the default);
- ``status.url``: the URL KServe publishes (an external Route or Ingress when the model is
  exposed; ``address: external``).

The runtimes OpenShift AI offers for LLMs (vLLM) serve the OpenAI API under ``/v1``, so that path
is appended. The InferenceService must have the condition ``Ready`` ``True``.

The status is data from the cluster, written by whoever can write InferenceServices: the URL is
used only when it is an http(s) URL with a host, no user info, no path beyond ``/``, no query,
fragment, whitespace or control character; the caller then checks it against ``upstream_allow``
before any key is read or sent. Nothing from the status is repeated in an error except a
condition's reason that is a plain word.
"""

import re

from ansible.module_utils.six.moves.urllib.parse import urlsplit
from ansible_collections.rhpds.litemaas.plugins.module_utils.litellm_failure import (
    PermanentFailure,
)
from ansible_collections.rhpds.litemaas.plugins.module_utils.litellm_upstream_allow import (
    host_of,
)

GROUP, VERSION, PLURAL = "serving.kserve.io", "v1beta1", "inferenceservices"
#: the path of the OpenAI-compatible API of OpenShift AI's LLM runtimes (vLLM)
OPENAI_PATH = "/v1"
#: where each ``address`` choice is read in the status
FIELDS = {"cluster": ("address", "url"), "external": ("url",)}
#: a namespace's or an InferenceService's name: a DNS-1123 label, the whole string
_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\Z")
_UNSAFE = re.compile(r"[\s\x00-\x1f\x7f\\]")
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9]{0,62}\Z")


class InferenceServiceError(PermanentFailure):
    """The InferenceService named cannot give a model URL; the message says why and what to do."""


def check_ref(ref):
    """Refuse a reference whose name or namespace is not a DNS-1123 label (it came from outside:
    the value is not repeated)."""
    for field in ("name", "namespace"):
        if not isinstance(ref.get(field), str) or not _LABEL.match(ref[field]):
            raise InferenceServiceError(
                "inference_service.%s must be a DNS-1123 label (lower-case letters, digits and "
                "'-', starting and ending with a letter or digit, at most 63 characters)" % field
            )


def _dig(status, path):
    value = status
    for step in path:
        value = value.get(step) if isinstance(value, dict) else None
    return value


def _ready(status):
    """(is Ready True, the Ready condition's reason when it is a plain word)."""
    for condition in status.get("conditions") or []:
        if isinstance(condition, dict) and condition.get("type") == "Ready":
            reason = condition.get("reason")
            word = reason if isinstance(reason, str) and _WORD.match(reason) else None
            return condition.get("status") == "True", word
    return False, None


def checked_url(value):
    """``value`` when it is a base URL a model may use; ``None`` otherwise."""
    if not isinstance(value, str) or len(value) > 2048 or _UNSAFE.search(value):
        return None
    if host_of(value) is None:
        return None  # not http(s), no host, or user info in it
    parts = urlsplit(value)
    if parts.query or parts.fragment or parts.path not in ("", "/"):
        return None
    return value.rstrip("/")


def api_base(obj, where, address):
    """The model's ``api_base`` from the InferenceService ``obj`` (its JSON), or an error."""
    status = (obj or {}).get("status")
    status = status if isinstance(status, dict) else {}
    ready, reason = _ready(status)
    if not ready:
        raise InferenceServiceError(
            "%s is not Ready%s, so there is no model to register yet: wait until "
            "'oc get inferenceservice' shows it READY True, then send the change again"
            % (where, " (reason %s)" % reason if reason else "")
        )
    field = ".".join(("status",) + FIELDS[address])
    url = checked_url(_dig(status, FIELDS[address]))
    if url is None:
        raise InferenceServiceError(
            "%s has no usable %s (an http or https URL with a host and nothing after it, no "
            "user info): %s"
            % (
                where,
                field,
                "use address external (status.url)"
                if address == "cluster"
                else "use address cluster (status.address.url)",
            )
        )
    return url + OPENAI_PATH


def resolve(kube, ref):
    """``api_base`` for ``ref`` = ``{name, namespace, address}``, read with ``kube`` (the modules'
    ``Kube``)."""
    where = "InferenceService %s/%s" % (ref["namespace"], ref["name"])
    obj = kube.get_custom(GROUP, VERSION, ref["namespace"], PLURAL, ref["name"])
    if obj is None:
        raise InferenceServiceError(
            "%s does not exist (or this cluster serves no %s/%s InferenceServices): check the "
            "name and namespace with 'oc get inferenceservice -A'" % (where, GROUP, VERSION)
        )
    return api_base(obj, where, ref.get("address") or "cluster")
