"""The LiteLLM modules' documentation is valid YAML and says exactly what the argument specs do
(options, types, defaults, choices, required, no_log), as ansible-test's validate-modules would
check; secret options are no_log; ansible-doc renders every module with the doc fragment."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[3]
COLLECTIONS = os.environ.get("ANSIBLE_COLLECTIONS_PATH") or str(REPO / ".venv" / "collections")
MODULES = sorted(p.stem for p in (REPO / "plugins" / "modules").glob("litellm_*.py"))
SECRET_OPTIONS = {
    "litellm_model": {"master_key", "api_key"},
    "litellm_key": {"master_key"},
    "litellm_info": {"master_key"},
    "litellm_master_key": {"master_key", "new_master_key", "refused_keys"},
}

if COLLECTIONS not in sys.path:
    sys.path.insert(0, COLLECTIONS)


class _Captured(Exception):
    def __init__(self, kwargs: dict[str, Any]) -> None:
        self.kwargs = kwargs


class _CapturingModule:
    def __init__(self, **kwargs: Any) -> None:
        raise _Captured(kwargs)


def load(name: str) -> ModuleType:
    return importlib.import_module(f"ansible_collections.rhpds.litemaas.plugins.modules.{name}")


def argument_spec(name: str) -> dict[str, Any]:
    module = load(name)
    original = module.AnsibleModule
    module.AnsibleModule = _CapturingModule
    try:
        module.main()
    except _Captured as captured:
        return dict(captured.kwargs["argument_spec"])
    finally:
        module.AnsibleModule = original
    raise AssertionError(f"{name}.main() never built its AnsibleModule")


def documented_options(name: str) -> dict[str, Any]:
    doc = yaml.safe_load(load(name).DOCUMENTATION)
    options = dict(doc.get("options") or {})
    fragment = importlib.import_module(
        "ansible_collections.rhpds.litemaas.plugins.doc_fragments.litellm"
    ).ModuleDocFragment
    for extended in doc.get("extends_documentation_fragment") or []:
        assert extended == "rhpds.litemaas.litellm", extended
        options.update(yaml.safe_load(fragment.DOCUMENTATION)["options"])
    return options


def test_there_are_four_litellm_modules() -> None:
    assert MODULES == ["litellm_info", "litellm_key", "litellm_master_key", "litellm_model"]


def test_the_litellm_action_group_holds_every_litellm_module() -> None:
    runtime = yaml.safe_load((REPO / "meta" / "runtime.yml").read_text())
    assert runtime["action_groups"]["litellm"] == MODULES


@pytest.mark.parametrize("name", MODULES)
def test_documentation_examples_and_return_are_yaml(name: str) -> None:
    module = load(name)
    doc = yaml.safe_load(module.DOCUMENTATION)
    assert doc["module"] == name
    assert doc["short_description"]
    examples = yaml.safe_load(module.EXAMPLES)
    assert isinstance(examples, list) and examples
    for task in examples:
        assert any(key == f"rhpds.litemaas.{name}" for key in task), task
    assert isinstance(yaml.safe_load(module.RETURN), dict)


def _compare(name: str, path: str, spec: dict[str, Any], docs: dict[str, Any]) -> list[str]:
    problems = []
    if set(spec) != set(docs):
        problems.append(
            f"{name}{path}: argspec-only {sorted(set(spec) - set(docs))}, "
            f"docs-only {sorted(set(docs) - set(spec))}"
        )
    for option in set(spec) & set(docs):
        s, d = spec[option], docs[option]
        where = f"{name}{path}.{option}"
        if s.get("type", "str") != d.get("type", "str"):
            problems.append(f"{where}: type {s.get('type', 'str')} vs documented {d.get('type')}")
        if s.get("default") != d.get("default"):
            problems.append(f"{where}: default {s.get('default')!r} vs {d.get('default')!r}")
        if s.get("choices") != d.get("choices"):
            problems.append(f"{where}: choices {s.get('choices')} vs {d.get('choices')}")
        if bool(s.get("required")) != bool(d.get("required")):
            problems.append(f"{where}: required differs")
        if s.get("elements") != d.get("elements"):
            problems.append(f"{where}: elements {s.get('elements')} vs {d.get('elements')}")
        if "options" in s:
            problems += _compare(name, f"{path}.{option}", s["options"], d.get("suboptions", {}))
    return problems


@pytest.mark.parametrize("name", MODULES)
def test_the_argument_spec_matches_the_documentation(name: str) -> None:
    assert _compare(name, "", argument_spec(name), documented_options(name)) == []


@pytest.mark.parametrize("name", MODULES)
def test_secret_options_are_no_log_and_documented_as_never_logged(name: str) -> None:
    spec = argument_spec(name)
    docs = documented_options(name)
    no_log = {option for option, s in spec.items() if s.get("no_log")}
    assert no_log == SECRET_OPTIONS[name]
    for option in no_log:
        assert "never logged" in " ".join(docs[option]["description"]).lower(), option


@pytest.mark.parametrize("name", MODULES)
def test_ansible_doc_renders_the_module(name: str) -> None:
    result = subprocess.run(
        [str(Path(sys.executable).parent / "ansible-doc"), "-j", f"rhpds.litemaas.{name}"],
        env={**os.environ, "ANSIBLE_COLLECTIONS_PATH": COLLECTIONS},
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)[f"rhpds.litemaas.{name}"]["doc"]
    assert "url" in doc["options"] and "namespace" in doc["options"]
    assert doc["attributes"]["action_group"]["membership"] == ["rhpds.litemaas.litellm"]
