"""Each documented filter's YAML (plugins/filter/<name>.yml) names a filter the collection has,
documents exactly its arguments (required ones without a default, optional ones with theirs), and
ansible-doc renders it from the collection this tree is installed as."""

from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

import filterplugins

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[3]
COLLECTIONS = os.environ.get("ANSIBLE_COLLECTIONS_PATH") or str(REPO / ".venv" / "collections")
DOCUMENTED = sorted(p.stem for p in filterplugins.FILTERS.glob("*.yml"))
#: the filters documented with the role programs they replaced
ROLE_FILTERS = ["default_storage_class", "instance_hosts", "kept_layout", "readiness_report"]


def _filters() -> dict[str, Callable[..., Any]]:
    found: dict[str, Callable[..., Any]] = {}
    for path in sorted(filterplugins.FILTERS.glob("*.py")):
        found.update(filterplugins.load(path.stem).FilterModule().filters())
    return found


def _doc(name: str) -> dict[str, Any]:
    return dict(yaml.safe_load((filterplugins.FILTERS / f"{name}.yml").read_text()))


def test_the_role_filters_are_documented() -> None:
    assert set(ROLE_FILTERS) <= set(DOCUMENTED)


@pytest.mark.parametrize("name", DOCUMENTED)
def test_documentation_matches_the_filters_arguments(name: str) -> None:
    doc = _doc(name)
    assert doc["DOCUMENTATION"]["name"] == name
    assert yaml.safe_load(doc["EXAMPLES"]) and doc["RETURN"]["_value"]["description"]
    options = dict(doc["DOCUMENTATION"]["options"])
    assert options.pop("_input")["required"] is True
    parameters = list(inspect.signature(_filters()[name]).parameters.values())[1:]
    assert list(options) == [p.name for p in parameters]
    for parameter in parameters:
        option = options[parameter.name]
        if parameter.default is inspect.Parameter.empty:
            assert option.get("required") is True and "default" not in option, parameter.name
        else:
            assert option.get("default") == parameter.default, parameter.name
    positional = doc["DOCUMENTATION"].get("positional", "")
    assert [p.strip() for p in positional.split(",") if p.strip()] == list(options)


def test_ansible_doc_shows_each_documented_filter() -> None:
    done = subprocess.run(
        [Path(sys.executable).parent / "ansible-doc", "-t", "filter", "--json"]
        + [f"rhpds.litemaas.{name}" for name in DOCUMENTED],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "ANSIBLE_COLLECTIONS_PATH": COLLECTIONS},
    )
    shown = json.loads(done.stdout)
    for name in DOCUMENTED:
        doc = shown[f"rhpds.litemaas.{name}"]["doc"]
        assert doc["name"] == name and doc["short_description"], name
        source = Path(doc["filename"]).resolve()
        assert source == (filterplugins.FILTERS / f"{name}.yml").resolve(), source
