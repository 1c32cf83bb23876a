"""What the tests do otherwise than the Containerfile says: the table and how each is done."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

from containerfile.image import BASE_IMAGE, NotCarriedOut, Stage

CACHE = Path(os.environ.get("LITEMAAS_CACHE") or Path.home() / ".cache" / "litemaas-controller")
KUBERNETES_CORE = CACHE / "collections" / "ansible_collections" / "kubernetes" / "core"
#: Red Hat packages the base's package manager may install -> the Debian packages that provide
#: the same here (they must be installed already: the test never installs system packages)
DEBIAN_PACKAGES = {
    "git": "git",
    "openssl": "openssl",
    "postgresql": "postgresql-client-15",
    "rsync": "rsync",
}
PACKAGE_MANAGER = re.compile(r"^\s*(?:micro)?dnf\s+(?:-\S+\s+)*install\s+(?P<args>[^&;|]*)")
GALAXY_DOWNLOAD = re.compile(
    r'^\s*ansible-galaxy\s+collection\s+install\s+-p\s+"\$(?P<path>\w+)"\s+'
    r'"?kubernetes\.core:==(?P<version>[0-9.]+)"?\s*$'
)
#: every instruction done otherwise than it says, and by what (the tests hold each one made to it)
SUBSTITUTIONS = {
    f"FROM {BASE_IMAGE}:<tag>": "a venv of this machine's Python 3.11 at the base's "
    "/opt/app-root, with the base's environment, user and working directory (BASE_CONFIG); "
    "the base's system trees are this machine's",
    "RUN (micro)dnf install <packages>": "each package's Debian counterpart (DEBIAN_PACKAGES), "
    "checked installed; the dnf line's other commands are not run",
    "RUN ansible-galaxy collection install kubernetes.core:==<version>": "a copy of the cached "
    "kubernetes.core of that version (hack/setup.sh takes it from the Python index)",
}


def substitute_run(stage: Stage, value: str) -> bool:
    """Carry out a listed substitution; False when ``value`` is none of them."""
    if manager := PACKAGE_MANAGER.match(value):
        _debian_packages(packages(manager["args"]))
        stage.substituted.append(f"RUN {value}")
        return True
    if galaxy := GALAXY_DOWNLOAD.match(value):
        _cached_kubernetes_core(stage, galaxy["path"], galaxy["version"])
        stage.substituted.append(f"RUN {value}")
        return True
    return False


def packages(args: str) -> list[str]:
    return [p for p in args.split() if not p.startswith("-")]


def debian_name(package: str) -> str | None:
    """The Debian counterpart of an RPM package spec (``name``, ``name-1.2``, ``name>=1``)."""
    return DEBIAN_PACKAGES.get(re.split(r"-\d|[<>=]", package)[0])


def _debian_packages(packages: list[str]) -> None:
    for package in packages:
        debian = debian_name(package)
        assert debian is not None  # check() refused the others
        status = subprocess.run(
            ["dpkg-query", "-W", "-f=${Status}", debian],
            capture_output=True,
            text=True,
            check=False,
        )
        if "install ok installed" not in status.stdout:
            raise NotCarriedOut(f"package {package}: Debian's {debian} is not installed")


def _cached_kubernetes_core(stage: Stage, variable: str, version: str) -> None:
    manifest = json.loads((KUBERNETES_CORE / "MANIFEST.json").read_text())
    cached = manifest["collection_info"]["version"]
    if cached != version:
        raise NotCarriedOut(f"kubernetes.core {version} asked for, {cached} cached")
    into = Path(stage.host_env()[variable]) / "ansible_collections" / "kubernetes" / "core"
    into.parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(KUBERNETES_CORE, into, dirs_exist_ok=True)
