"""The JSON schemas of model-change messages, one per type (published at /api/v1/schemas/...).

Bodies name Kubernetes Secrets; they never carry a secret value.  ``additionalProperties: false``
is what refuses a raw key (``api_key``, ``master_key``...) at the door, and ``SECRET_FIELDS``
names those fields so the dead letter can say why.
"""

from __future__ import annotations

from typing import Any

from litemaas_controller.intake.schema import ID_PATTERN, INSTANCE_PATTERN, whole

#: fields that would carry a secret value: refused wherever they appear in a body
SECRET_FIELDS = frozenset(
    {"api_key", "key_value", "master_key", "new_master_key", "password", "token", "value"}
)

#: model, provider and alias names and user ids as they are really written
#: (``meta-llama/Llama-3-8B-Instruct``, ``granite-3-8b:latest``, ``alice@example.com``): no
#: spaces, control characters or template markers
NAME_PATTERN = whole(r"[A-Za-z0-9][-A-Za-z0-9_.:@/+]*")
_NAME = {"type": "string", "minLength": 1, "maxLength": 256, "pattern": NAME_PATTERN}
_K8S_NAME = {"type": "string", "pattern": whole(r"[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?")}
#: a namespace's or an InferenceService's name: a DNS-1123 label
_K8S_LABEL = {"type": "string", "pattern": whole(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")}
_SECRET_KEY = {"type": "string", "pattern": whole(r"[-._a-zA-Z0-9]{1,253}")}
#: an http(s) URL without spaces or control characters
_URL = {"type": "string", "pattern": whole(r"https?://[^\s\x00-\x1f\x7f]+")}
_NONE: dict[str, Any] = {"type": "object", "additionalProperties": False, "properties": {}}


def _obj(required: list[str], **props: Any) -> dict[str, Any]:
    return {
        "type": "object",
        "required": required,
        "additionalProperties": False,
        "properties": props,
    }


BODIES: dict[str, dict[str, Any]] = {
    "model.upsert": {
        **_obj(
            ["name", "api_key_secret", "mode"],
            name=_NAME,
            api_base=_URL,
            inference_service=_obj(
                ["name", "namespace"],
                name=_K8S_LABEL,
                namespace=_K8S_LABEL,
                address={"enum": ["cluster", "external"]},
            ),
            api_key_secret=_obj(["name", "key"], name=_K8S_NAME, key=_SECRET_KEY),
            upstream_model=_NAME,
            mode={"enum": ["chat", "completion", "embedding"]},
            provider=_NAME,
            limits={
                "type": "object",
                "additionalProperties": False,
                "properties": {
                    "rpm": {"type": "integer", "minimum": 1},
                    "tpm": {"type": "integer", "minimum": 1},
                },
            },
        ),
        # the upstream: by URL, or by the KServe InferenceService whose status gives the URL
        "oneOf": [{"required": ["api_base"]}, {"required": ["inference_service"]}],
    },
    "model.delete": _obj(["name"], name=_NAME),
    "key.create": _obj(
        ["alias", "user_id", "models", "secret"],
        alias=_NAME,
        user_id=_NAME,
        models={"type": "array", "items": _NAME, "minItems": 1, "uniqueItems": True},
        max_budget={"type": "number", "minimum": 0},
        duration={"type": "string", "pattern": whole(r"[0-9]+[smhd]")},
        secret=_obj(["name"], name=_K8S_NAME),
    ),
    "key.rotate": _obj(["alias"], alias=_NAME),
    "key.delete": _obj(["alias"], alias=_NAME),
    "master_key.rotate": _NONE,
    "admin_password.rotate": _NONE,
}

TYPES = tuple(BODIES)

#: the stream entry's fields; ``body`` is JSON text, checked against ``BODIES[type]``
ENVELOPE: dict[str, Any] = _obj(
    ["id", "type", "instance", "body"],
    id={"type": "string", "pattern": ID_PATTERN},
    type={"enum": list(TYPES)},
    instance={"type": "string", "pattern": INSTANCE_PATTERN},
    body={"type": "string", "description": "JSON text of the body of the message's type"},
)


def schema_id(message_type: str) -> str:
    return f"/api/v1/schemas/messages/{message_type}.json"


def published(message_type: str) -> dict[str, Any]:
    """The published schema of one message type: its envelope with ``body`` parsed."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": schema_id(message_type),
        "title": f"LiteMaaS model-change message {message_type}",
        "description": (
            "Fields of an entry on the litemaas:changes stream; body is sent as JSON text. "
            "Secrets are named (Kubernetes Secrets in the instance's namespace), never sent."
        ),
        **_obj(
            ["id", "type", "instance", "body"],
            id=ENVELOPE["properties"]["id"],
            type={"const": message_type},
            instance=ENVELOPE["properties"]["instance"],
            body=BODIES[message_type],
        ),
    }
