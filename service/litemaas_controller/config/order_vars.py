"""Which role variables an order may set, read from the role's ``meta/argument_specs.yml``.

An order may set any of the role's own variables (``ocp4_workload_litemaas_*``) except secret
ones (secrets travel by reference, in Kubernetes Secrets) and those the order itself decides
(action, instance, namespace...).  The AgnosticD boilerplate the role only tolerates
(``become_override``, ``ocp_username``, ``silent``) is not the order's to set.
When the file is absent, a built-in list of the 0.1.2 role's variables is used.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from litemaas_controller.errors import ConfigError

PREFIX = "ocp4_workload_litemaas_"
#: the ``app.kubernetes.io/managed-by`` value on everything the controller's runs create
CONTROLLER = "litemaas-controller"

#: variables the order decides itself: never taken from ``vars``
DECIDED = frozenset(
    {
        "ACTION",
        f"{PREFIX}remove",
        f"{PREFIX}namespace",
        f"{PREFIX}instance",
        f"{PREFIX}user_info_secrets",
        f"{PREFIX}managed_by",  # the controller labels its instances as its own
    }
)

_SECRET_NAME = re.compile(r"password|passwd|secret|token|(^|_)key($|_)|api_key", re.IGNORECASE)

_ARGSPEC_TO_JSON = {
    "str": "string",
    "path": "string",
    "bool": "boolean",
    "int": "integer",
    "float": "number",
    "list": "array",
    "dict": "object",
}

#: the 0.1.2 role's non-secret variables (ORIGINAL-COLLECTION.md) with their JSON types
BUILTIN: dict[str, str | None] = {
    f"{PREFIX}{name}": kind
    for name, kind in {
        "version": "string",
        "route_name": "string",
        "image_registry": "string",
        "backend_image": "string",
        "frontend_image": "string",
        "litellm_image": "string",
        "litellm_tag": "string",
        "cloud_provider": "string",
        "postgres_version": "string",
        "postgres_storage_size": "string",
        "postgres_storage_class": "string",
        "postgres_storage_access_mode": "string",
        "litellm_ui_username": "string",
        "oauth_enabled": "boolean",
        "oauth_provider": "string",
        "oauth_client_id": "string",
        "admin_emails": "array",
        "cluster_domain": "string",
        "backend_memory_limit": "string",
        "backend_cpu_limit": "string",
        "frontend_memory_limit": "string",
        "frontend_cpu_limit": "string",
        "litellm_memory_limit": "string",
        "litellm_cpu_limit": "string",
        "deploy_frontend": "boolean",
        "deploy_backend": "boolean",
        "deploy_litellm": "boolean",
    }.items()
}

#: the 0.1.2 role's secret variables: refused with a pointer to secrets-by-reference
BUILTIN_SECRET = frozenset(
    f"{PREFIX}{n}"
    for n in (
        "postgres_password",
        "jwt_secret",
        "admin_api_key",
        "litellm_api_key",
        "litellm_ui_password",
        "oauth_client_secret",
    )
)


@dataclass(frozen=True)
class OrderVars:
    """The catalogue of order variables: allowed names with JSON types, and refused secret ones."""

    allowed: dict[str, str | None]
    secret: frozenset[str]
    source: str

    def json_schema(self) -> dict[str, Any]:
        props = {
            name: ({"type": kind} if kind else {}) for name, kind in sorted(self.allowed.items())
        }
        return {"type": "object", "properties": props, "additionalProperties": False}


def is_secret(name: str, spec: dict[str, Any]) -> bool:
    return bool(spec.get("no_log")) or bool(_SECRET_NAME.search(name.removeprefix(PREFIX)))


def from_argument_specs(path: Path) -> OrderVars:
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        options = doc["argument_specs"]["main"]["options"]
    except (OSError, yaml.YAMLError, KeyError, TypeError) as exc:
        raise ConfigError(
            f"{path} is not a role argument_specs file with argument_specs.main.options: {exc}"
        ) from exc
    allowed: dict[str, str | None] = {}
    secret: set[str] = set()
    for name, raw_spec in (options or {}).items():
        spec = raw_spec or {}
        if name in DECIDED or not name.startswith(PREFIX):
            continue  # decided by the order; the role's private table or AgnosticD boilerplate
        if is_secret(name, spec):
            secret.add(name)
        else:
            allowed[name] = _ARGSPEC_TO_JSON.get(str(spec.get("type", "str")))
    return OrderVars(allowed=allowed, secret=frozenset(secret), source=str(path))


def builtin() -> OrderVars:
    return OrderVars(allowed=dict(BUILTIN), secret=BUILTIN_SECRET, source="built-in 0.1.2 list")


def load_order_vars(path: Path | None) -> OrderVars:
    """The catalogue from ``path`` when it exists, else the built-in list (logged by the caller)."""
    if path is not None and path.is_file():
        return from_argument_specs(path)
    return builtin()
