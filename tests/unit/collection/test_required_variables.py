"""The roles' argument_specs enforce what is required: a required variable has no default to
satisfy the check, and litellm_keys validates its body's fields (nested options)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[3]
COLLECTIONS = os.environ.get("ANSIBLE_COLLECTIONS_PATH") or str(REPO / ".venv" / "collections")
ROLES = sorted(p.parents[1].name for p in (REPO / "roles").glob("*/meta/argument_specs.yml"))


def _options(role: str) -> dict[str, Any]:
    specs = yaml.safe_load((REPO / "roles" / role / "meta" / "argument_specs.yml").read_text())
    return dict(specs["argument_specs"]["main"]["options"])


def _required(options: dict[str, Any], path: str = "") -> list[tuple[str, dict[str, Any]]]:
    found = []
    for name, option in options.items():
        if option.get("required"):
            found.append((path + name, option))
        found += _required(option.get("options") or {}, f"{path}{name}.")
    return found


@pytest.mark.parametrize("role", ROLES)
def test_a_required_variable_has_no_default(role: str) -> None:
    defaults_file = REPO / "roles" / role / "defaults" / "main.yml"
    defaults = yaml.safe_load(defaults_file.read_text()) if defaults_file.exists() else {}
    for name, option in _required(_options(role)):
        assert "default" not in option, name
        assert name not in (defaults or {}), f"{name} is required but defaults/main.yml sets it"


def _play(playbook: str, extravars: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    """A message playbook on localhost: the role's argument check runs before any task."""
    return subprocess.run(
        [
            str(Path(sys.executable).parent / "ansible-playbook"),
            f"rhpds.litemaas.{playbook}",
            "-e",
            json.dumps(extravars),
        ],
        env={**os.environ, "ANSIBLE_COLLECTIONS_PATH": COLLECTIONS, "ANSIBLE_NOCOLOR": "1"},
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("playbook", "extravars", "refusal"),
    [
        (
            "rotate_keys",
            {"litellm_keys_operation": "master_key.rotate"},
            "missing required arguments: litellm_keys_namespace",
        ),
        (
            "rotate_keys",
            {
                "litellm_keys_namespace": "ns",
                "litellm_keys_operation": "key.create",
                "litellm_keys_key": {"alias": "a", "models": ["m"], "secret": {}},
            },
            "missing required arguments: name found in litellm_keys_key -> secret",
        ),
        (
            "rotate_keys",
            {
                "litellm_keys_namespace": "ns",
                "litellm_keys_operation": "key.create",
                "litellm_keys_key": {"alias": "a", "api_key": "sk-planted"},
            },
            "litellm_keys_key.api_key. Supported parameters include",
        ),
        (
            "register_model",
            {"litellm_models_model": {"name": "m"}},
            "missing required arguments: litellm_models_namespace",
        ),
    ],
    ids=["keys-namespace", "keys-secret-name", "keys-unknown-field", "models-ns"],
)
def test_the_argument_check_refuses_what_is_missing(
    playbook: str, extravars: dict[str, Any], refusal: str
) -> None:
    done = _play(playbook, extravars)
    assert done.returncode != 0
    assert refusal in done.stdout, done.stdout[-3000:]
    assert "sk-planted" not in done.stdout + done.stderr
