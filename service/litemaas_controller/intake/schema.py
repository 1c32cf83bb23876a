"""The order's JSON schema, published at /api/v1/schemas/order.json and in the OpenAPI document."""

from __future__ import annotations

from typing import Any

from litemaas_controller.role.order_vars import OrderVars


def whole(pattern: str) -> str:
    """A JSON Schema ``pattern`` that only a whole string matches.

    jsonschema searches with Python's ``re``, whose ``$`` also matches before a trailing newline;
    the lookahead after it refuses that newline (in ECMA 262, where ``$`` is the end, it always
    holds), so the published pattern means the same in both.
    """
    return rf"^(?:{pattern})$(?!\n)"


#: DNS-1123 label of at most 40 characters (instance names become parts of object names)
INSTANCE_PATTERN = whole(r"[a-z0-9]([-a-z0-9]{0,38}[a-z0-9])?")
NAMESPACE_PATTERN = whole(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")
ID_PATTERN = whole(r"[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}")


def order_schema(order_vars: OrderVars) -> dict[str, Any]:
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "/api/v1/schemas/order.json",
        "title": "LiteMaaS order",
        "description": "A catalog order to provision, update or destroy one LiteMaaS instance.",
        "type": "object",
        "required": ["id", "action", "instance"],
        "additionalProperties": False,
        "properties": {
            "id": {
                "type": "string",
                "pattern": ID_PATTERN,
                "description": "The catalog's idempotency key: the same id is one order.",
            },
            "action": {"enum": ["provision", "update", "destroy"]},
            "instance": {
                "type": "string",
                "pattern": INSTANCE_PATTERN,
                "description": "Instance name (DNS-1123 label, at most 40 characters).",
            },
            "namespace": {
                "type": "string",
                "pattern": NAMESPACE_PATTERN,
                "description": "Namespace of the instance; default litemaas-<instance>.",
            },
            "vars": {
                **order_vars.json_schema(),
                "description": (
                    "Role variables (ocp4_workload_litemaas_*) except secret ones and those "
                    "the order decides (namespace, instance, ACTION...)."
                ),
            },
        },
    }
