"""The roles' argument_specs enforce what is required: a required variable has no default to
satisfy the check, and litellm_keys and litellm_models validate their body's fields (nested
options); a planted secret value is never shown."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from litemaas_controller.intake.messages.schema import BODIES

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[3]
COLLECTIONS = os.environ.get("ANSIBLE_COLLECTIONS_PATH") or str(REPO / ".venv" / "collections")
#: a secret value planted in hostile bodies: never shown in the output
PLANTED = "sk-planted"
UPSTREAM = "http://upstream.example:8000/v1"
MODEL = {"name": "m", "api_base": UPSTREAM, "api_key_secret": {"name": "s", "key": "k"}}
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
                "litellm_keys_key": {"alias": "a", "api_key": PLANTED},
            },
            "litellm_keys_key.api_key. Supported parameters include",
        ),
        (
            "register_model",
            {"litellm_models_model": {"name": "m"}},
            "missing required arguments: litellm_models_namespace",
        ),
        (
            "register_model",
            {"litellm_models_namespace": "ns", "litellm_models_model": {"api_base": UPSTREAM}},
            "missing required arguments: name found in litellm_models_model",
        ),
        (
            "register_model",
            {
                "litellm_models_namespace": "ns",
                "litellm_models_model": {**MODEL, "api_key": PLANTED},
            },
            "litellm_models_model.api_key. Supported parameters include",
        ),
        (
            "register_model",
            {
                "litellm_models_namespace": "ns",
                "litellm_models_model": {
                    **MODEL,
                    "api_key_secret": {"name": "s", "value": PLANTED},
                },
            },
            "missing required arguments: key found in litellm_models_model -> api_key_secret",
        ),
        (
            "register_model",
            {
                "litellm_models_namespace": "ns",
                "litellm_models_model": {**MODEL, "limits": {"rpm": 1, "token": PLANTED}},
            },
            "litellm_models_model.limits.token. Supported parameters include",
        ),
        (
            "register_model",
            {
                "litellm_models_namespace": "ns",
                "litellm_models_model": {
                    **MODEL,
                    "inference_service": {"name": "i", "namespace": "n"},
                },
            },
            "mutually exclusive: api_base|inference_service found in litellm_models_model",
        ),
        (
            "register_model",
            {"litellm_models_namespace": "ns", "litellm_models_model": {**MODEL, "mode": "image"}},
            "value of mode must be one of: chat, completion, embedding",
        ),
    ],
    ids=[
        "keys-namespace",
        "keys-secret-name",
        "keys-unknown-field",
        "models-ns",
        "models-name",
        "models-unknown-field",
        "models-secret-key",
        "models-unknown-limit",
        "models-two-upstreams",
        "models-mode",
    ],
)
def test_the_argument_check_refuses_what_is_missing(
    playbook: str, extravars: dict[str, Any], refusal: str
) -> None:
    done = _play(playbook, extravars)
    assert done.returncode != 0
    assert refusal in done.stdout, done.stdout[-3000:]
    # refused by the argument check itself, before any task of the role ran
    assert re.search(r"\bok=0\b", done.stdout), done.stdout[-3000:]
    assert PLANTED not in done.stdout + done.stderr


def _fields(schema: dict[str, Any]) -> dict[str, Any]:
    """A JSON schema's object properties as nested names (leaves: None)."""
    return {
        name: _fields(prop) if prop.get("type") == "object" else None
        for name, prop in schema.get("properties", {}).items()
    }


def _spec_fields(options: dict[str, Any]) -> dict[str, Any]:
    return {
        name: _spec_fields(option["options"]) if "options" in option else None
        for name, option in options.items()
    }


def test_the_model_spec_takes_every_field_a_model_message_may_carry() -> None:
    spec = _options("litellm_models")["litellm_models_model"]["options"]
    assert _spec_fields(spec) == _fields(BODIES["model.upsert"])


def test_a_model_delete_body_passes_the_argument_check_and_the_assert() -> None:
    done = _play(
        "register_model",
        {
            "litellm_models_namespace": "ns",
            "litellm_models_model": {"name": "m"},
            "litellm_models_state": "absent",
        },
    )
    assert "TASK [rhpds.litemaas.litellm_models : Apply the model change" in done.stdout
