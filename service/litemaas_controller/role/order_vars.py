"""Which role variables an order may set, read from the role's ``meta/argument_specs.yml``.

An order may set any of the role's own variables (``ocp4_workload_litemaas_*``) except secret
ones (secrets travel by reference, in Kubernetes Secrets) and those the order itself decides
(action, instance, namespace...).  The AgnosticD boilerplate the role only tolerates
(``become_override``, ``ocp_username``, ``silent``) is not the order's to set.
The file of the collection the service runs is the only source: there is no built-in copy to
drift from it, and a missing file stops the service at start.
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
        f"{PREFIX}controller_account",  # the controller grants only itself access (in-cluster)
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


def load_order_vars(path: Path) -> OrderVars:
    """The catalogue from the role's ``argument_specs.yml`` at ``path``; ConfigError if absent."""
    if not path.is_file():
        raise ConfigError(
            f"the role's argument specs are not at {path}: point LITEMAAS_ARGUMENT_SPECS at the "
            "collection's roles/ocp4_workload_litemaas/meta/argument_specs.yml (by default it is "
            "looked for beside LITEMAAS_PLAYBOOK_DIR)"
        )
    return from_argument_specs(path)
