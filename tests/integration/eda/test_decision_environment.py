"""decision-environment.yml makes a build context with ansible-rulebook, Java, our package and
collection (``ansible-builder create``; no container engine builds it here)."""

from __future__ import annotations

import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

from .rulebook import BIN, REPO

pytestmark = pytest.mark.integration


def test_ansible_builder_create_makes_the_decision_environments_build_context(
    collection_tarball: Path, tmp_path: Path
) -> None:
    shutil.copy(REPO / "decision-environment.yml", tmp_path)
    build = tmp_path / "build"
    subprocess.run([BIN / "pip", "wheel", "-q", "--no-deps", "-w", build,
                    REPO], check=True, capture_output=True, cwd=tmp_path)  # fmt: skip
    shutil.copy(collection_tarball, build)
    context = tmp_path / "context"
    subprocess.run(
        [BIN / "ansible-builder", "create", "-f", "decision-environment.yml", "-c", context,
         "--output-filename", "Containerfile"],
        check=True, capture_output=True, cwd=tmp_path,
    )  # fmt: skip
    built = context / "_build"
    assert "ansible-rulebook>=1.3,<1.4" in (built / "requirements.txt").read_text()
    assert "java-17-openjdk-headless" in (built / "bindep.txt").read_text()
    assert "kubernetes.core" in (built / "requirements.yml").read_text()
    shipped = sorted(p.name for p in (built / "litemaas").iterdir())
    assert shipped == ["litemaas_controller-0.2.0-py3-none-any.whl", "rhpds-litemaas-0.2.0.tar.gz"]
    with tarfile.open(built / "litemaas" / "rhpds-litemaas-0.2.0.tar.gz") as tar:
        names = set(tar.getnames())
    assert {"extensions/eda/plugins/event_source/order_webhook.py",
            "extensions/eda/plugins/event_source/change_stream.py",
            "extensions/eda/plugins/event_source/instance_health.py",
            "extensions/eda/rulebooks", "rulebooks/litemaas.yml"} <= names  # fmt: skip
    containerfile = (context / "Containerfile").read_text()
    assert "pip install --no-cache-dir /tmp/litemaas/litemaas_controller-0.2.0" in containerfile
    assert "collection install --no-deps -p /usr/share/ansible/collections" in containerfile
    assert "ENV ANSIBLE_COLLECTIONS_PATH=/usr/share/ansible/collections" in containerfile
