"""Every plugin of the built collection has documentation that ansible-doc shows: each module,
filter, lookup, test (any kind the tarball ships), and each action plugin through the module of
its name. Checked on the collection `ansible-galaxy collection build` makes and installs, not on
the checkout."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path, PurePosixPath

import pytest

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[3]
COLLECTIONS = os.environ.get("ANSIBLE_COLLECTIONS_PATH") or str(REPO / ".venv" / "collections")
BIN = Path(sys.executable).parent
#: plugin folders ansible-doc does not show: shared code and documentation fragments
NOT_SHOWN = {"module_utils", "doc_fragments"}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, list[str]]]:
    """The installed collections path, and the plugins the tarball ships by folder."""
    out = tmp_path_factory.mktemp("plugin-docs")
    subprocess.run(
        [BIN / "ansible-galaxy", "collection", "build", str(REPO), "--output-path", str(out)],
        check=True,
        capture_output=True,
    )
    (tarball,) = out.glob("rhpds-litemaas-*.tar.gz")
    with tarfile.open(tarball) as tar:
        files = [PurePosixPath(n) for n in tar.getnames()]
    plugins: dict[str, list[str]] = {}
    for file in files:
        if file.parts[0] == "plugins" and len(file.parts) == 3 and file.suffix in (".py", ".yml"):
            plugins.setdefault(file.parts[1], []).append(file.stem)
    installed = out / "installed"
    subprocess.run(
        [BIN / "ansible-galaxy", "collection", "install", tarball, "-p", installed, "--no-deps"],
        check=True,
        capture_output=True,
        env={**os.environ, "ANSIBLE_COLLECTIONS_PATH": str(installed)},
    )
    return installed, plugins


def _ansible_doc(installed: Path, *args: str) -> dict[str, object]:
    """ansible-doc's JSON, the installed copy first on the path (kubernetes.core after it, whose
    documentation fragments the modules extend)."""
    done = subprocess.run(
        [BIN / "ansible-doc", "--json", *args],
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, "ANSIBLE_COLLECTIONS_PATH": f"{installed}{os.pathsep}{COLLECTIONS}"},
        timeout=120,
    )
    return dict(json.loads(done.stdout))


def _shown_kinds(plugins: dict[str, list[str]]) -> list[str]:
    """ansible-doc's plugin type for each folder it shows (its name; modules: module)."""
    shown = sorted(set(plugins) - NOT_SHOWN - {"action"})
    return ["module" if folder == "modules" else folder for folder in shown]


def test_the_collection_ships_modules_filters_and_action_plugins(
    built: tuple[Path, dict[str, list[str]]],
) -> None:
    assert {"module", "filter"} <= set(_shown_kinds(built[1])) and built[1]["action"]


def test_every_plugin_ansible_doc_lists_is_documented(
    built: tuple[Path, dict[str, list[str]]],
) -> None:
    installed, plugins = built
    for kind in _shown_kinds(plugins):
        listed = _ansible_doc(installed, "-t", kind, "-l", "rhpds.litemaas")
        assert listed, kind
        undocumented = sorted(name for name, summary in listed.items() if summary == "UNDOCUMENTED")
        assert undocumented == [], kind
        shown = _ansible_doc(installed, "-t", kind, *listed)
        for name in listed:
            doc = shown[name]
            assert isinstance(doc, dict) and doc["doc"]["short_description"], name
            assert doc["examples"], name
            assert Path(doc["doc"]["filename"]).is_relative_to(installed), name


def test_every_module_file_and_action_plugin_is_a_documented_module(
    built: tuple[Path, dict[str, list[str]]],
) -> None:
    installed, plugins = built
    listed = _ansible_doc(installed, "-t", "module", "-l", "rhpds.litemaas")
    wanted = {f"rhpds.litemaas.{n}" for n in plugins["modules"] + plugins["action"]}
    assert sorted(wanted - set(listed)) == []
    assert all(listed[name] != "UNDOCUMENTED" for name in wanted)
