"""What a message may point at: Secrets meant for it, and model endpoints the operator allows.

A body names Secrets (``api_key_secret``, a key's ``secret``) and a model endpoint (``api_base``)
that the run then reads, writes or sends a key to, so the names are confined here, before anything
is recorded (DESIGN.md, "Untrusted input stays data"):

- never one of the instance's own Secrets (``RESERVED_SECRETS``: what the deploy role and the
  master-key rotation write). The modules refuse them too, and check what intake cannot see
  without the cluster: an upstream's key is read only from a Secret labelled
  ``litemaas.rhpds.io/allow-message-ref: "true"``, a key's Secret is written only when
  ``litellm_key`` created it. ``plugins/module_utils/litellm_secret_refs.py`` holds the same list;
  a unit test keeps the two equal.
- a ``model.upsert``'s ``api_base`` only on a host ``LITEMAAS_UPSTREAM_ALLOW`` admits (a model named
  by ``inference_service`` gets its URL from the cluster, so ``litellm_model`` checks that one).

Reasons name the field and the rule, never the value.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from litemaas_controller.config.upstream_allow import allowed
from litemaas_controller.errors import InvalidError

#: the instance's own Secrets: the deploy role's four and the master-key rotation's journal
RESERVED_SECRETS = frozenset(
    {
        "litellm-secret",
        "postgres-secret",
        "backend-secret",
        "litellm-salt-key",
        "litellm-master-key-rotation",
    }
)
ALLOW_REF_LABEL = "litemaas.rhpds.io/allow-message-ref"

#: per message type, the body fields that name a Secret (as ``{name, ...}``)
SECRET_REFS = {"model.upsert": ("api_key_secret",), "key.create": ("secret",)}


def _reserved(kind: str, body: dict[str, Any]) -> list[str]:
    return [
        f"body/{field}/name"
        for field in SECRET_REFS.get(kind, ())
        if (body.get(field) or {}).get("name") in RESERVED_SECRETS
    ]


def check(kind: str, body: dict[str, Any], upstream_allow: Iterable[str]) -> None:
    """``InvalidError`` when a schema-valid body names a reserved Secret or a refused endpoint."""
    reserved = _reserved(kind, body)
    if reserved:
        raise InvalidError(
            f"{', '.join(reserved)}: names one of the instance's own Secrets "
            f"({', '.join(sorted(RESERVED_SECRETS))}), which a message may never name; name a "
            f"Secret meant for it (an upstream's key: a Secret labelled {ALLOW_REF_LABEL}=true)"
        )
    # An InferenceService's URL is known only from the cluster: the module checks it.
    if (
        kind == "model.upsert"
        and "api_base" in body
        and not allowed(body["api_base"], upstream_allow)
    ):
        raise InvalidError(
            "body/api_base: its host is not one LITEMAAS_UPSTREAM_ALLOW admits, so no key is "
            "sent there; point the model at an allowed host or ask the operator to allow it"
        )
