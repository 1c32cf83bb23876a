"""The oldest claimed versions (ansible-core 2.16, kubernetes.core 5) deploy, converge and remove.

Opt-in: they live outside the project's venv. Provision them with make_oldest_env.sh DIR and run
with LITEMAAS_OLDEST_ENV=DIR.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from sandbox import Sandbox

from .playrun import REPO, new_namespace

pytestmark = pytest.mark.integration

OLDEST = os.environ.get("LITEMAAS_OLDEST_ENV")


@pytest.mark.skipif(not OLDEST, reason="LITEMAAS_OLDEST_ENV not set (see make_oldest_env.sh)")
def test_oldest_ansible_core_and_kubernetes_core(sandbox_aws: Sandbox, tmp_path: Path) -> None:
    oldest = Path(str(OLDEST))
    bin_dir = oldest / "venv" / "bin"
    version = subprocess.run(
        [bin_dir / "ansible", "--version"], capture_output=True, text=True, check=True
    ).stdout
    assert "core 2.16." in version
    core = oldest / "collections" / "ansible_collections" / "kubernetes" / "core"
    assert json.loads((core / "MANIFEST.json").read_text())["collection_info"][
        "version"
    ].startswith("5.")
    link = tmp_path / "ansible_collections" / "rhpds"
    link.mkdir(parents=True)
    (link / "litemaas").symlink_to(REPO)
    env = {
        **os.environ,
        **sandbox_aws.env(),
        "ANSIBLE_COLLECTIONS_PATH": f"{tmp_path}{os.pathsep}{oldest / 'collections'}",
        "PATH": f"{bin_dir}{os.pathsep}/usr/bin:/bin",
    }
    ns = new_namespace()
    recaps = []
    for playbook in ("deploy_litemaas", "deploy_litemaas", "remove_litemaas", "remove_litemaas"):
        done = subprocess.run(
            [
                bin_dir / "ansible-playbook",
                f"rhpds.litemaas.{playbook}",
                "-e",
                f"ocp4_workload_litemaas_namespace={ns}",
            ],
            check=False,
            capture_output=True,
            text=True,
            env=env,
            cwd=tmp_path,
            timeout=600,
        )
        assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
        recaps.append(done.stdout.rsplit("PLAY RECAP", 1)[1])
    assert "changed=0" not in recaps[0] and "changed=0" in recaps[1]
    assert "changed=0" not in recaps[2] and "changed=0" in recaps[3]
    assert sandbox_aws.kube().get(f"/api/v1/namespaces/{ns}") is None
