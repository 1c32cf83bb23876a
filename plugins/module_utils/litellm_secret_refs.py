# Copyright: litemaas-controller developers
# MIT License
"""Which Kubernetes Secrets a model or key change may name (DESIGN.md, "Untrusted input stays
data").

The names come from messages and playbook variables, so a name alone must never reach a Secret
that is not meant for the change:

- never one of the instance's own Secrets (``RESERVED``): the deploy role's ``litellm-secret``,
  ``postgres-secret``, ``backend-secret`` and the master-key rotation's journal;
- an upstream's API key is read only from a Secret that opts in with the label
  ``litemaas.rhpds.io/allow-message-ref: "true"`` (whoever hands out the upstream's key labels
  its Secret);
- a virtual key's Secret is written or deleted only when ``litellm_key`` created it: the module
  records that with the annotation ``litemaas.rhpds.io/virtual-key: <alias>``. An annotation,
  because an alias is free text (a label value is at most 63 characters of a narrow set) and
  ownership is checked on the one Secret named, never selected; the Secret's labels still say
  ``litemaas.rhpds.io/component: virtual-key`` for selection.

The controller refuses the reserved names at intake as well
(``litemaas_controller/intake/messages/references.py``); a unit test keeps the two lists equal.
"""

from ansible_collections.rhpds.litemaas.plugins.module_utils.litellm_failure import (
    PermanentFailure,
)

RESERVED = frozenset(
    [
        "litellm-secret",
        "postgres-secret",
        "backend-secret",
        "litellm-salt-key",
        "litellm-master-key-rotation",
    ]
)
ALLOW_REF_LABEL = "litemaas.rhpds.io/allow-message-ref"
OWNER_ANNOTATION = "litemaas.rhpds.io/virtual-key"


class SecretRefError(PermanentFailure):
    """A change names a Secret it may not use; the message says which rule and what to do (no
    retry cures it)."""


def refuse_reserved(name, option):
    if name in RESERVED:
        raise SecretRefError(
            "%s names one of the instance's own Secrets (%s), which a model or key change may "
            "never use; name a Secret meant for it" % (option, ", ".join(sorted(RESERVED)))
        )


def _labels(secret):
    return (secret.metadata.labels if secret.metadata else None) or {}


def _annotations(secret):
    return (secret.metadata.annotations if secret.metadata else None) or {}


def check_readable(secret, namespace, option):
    """An upstream's key may come only from a Secret labelled for it. (The name is not repeated:
    it came from outside and may be anything that fits a name.)"""
    if _labels(secret).get(ALLOW_REF_LABEL) != "true":
        raise SecretRefError(
            "%s: the Secret it names in namespace %s does not carry the label %s=true, so it is "
            "not read: only Secrets handed out for model changes are. Label it "
            "(kubectl label secret NAME -n %s %s=true) if it holds an upstream's key meant for "
            "this." % (option, namespace, ALLOW_REF_LABEL, namespace, ALLOW_REF_LABEL)
        )


def owner_annotations(alias):
    return {OWNER_ANNOTATION: alias}


def owned_by(secret, alias):
    """Did litellm_key create ``secret`` for the key ``alias``?"""
    return _annotations(secret).get(OWNER_ANNOTATION) == alias
