"""0.1.2's README read literally: clone, run the playbook from the checkout, use what it says.

"Testing on RHDP Sandbox" clones the repository and runs `playbooks/deploy_litemaas.yml` without
installing the collection; Option 2 (CNV) passes its StorageClass with `-e`; the access commands
read Route `litellm` and Secret `litellm-secret` in namespace `litemaas`; 0.1.2's changelog labels
the LiteLLM pods `component: ai-proxy`. The clone is of the committed tree (HEAD), as a user gets
it.
"""

from __future__ import annotations

import base64
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from sandbox import Sandbox

from .playrun import REPO, kubernetes_core_dir

pytestmark = pytest.mark.integration

BIN = Path(sys.executable).parent
NS = "litemaas"  # 0.1.2's README: "All components deploy to the `litemaas` namespace"
SEED_CNV_CLASS = "ocs-external-storagecluster-ceph-rbd"  # its Option 2 example


def _only_kubernetes_core(tmp_path: Path) -> Path:
    """A collections path holding kubernetes.core and nothing else."""
    root = tmp_path / "collections"
    (root / "ansible_collections" / "kubernetes").mkdir(parents=True)
    (root / "ansible_collections" / "kubernetes" / "core").symlink_to(kubernetes_core_dir())
    return root


def _run(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, check=False, timeout=600
    )
    assert done.returncode == 0, f"{args}:\n{done.stdout[-4000:]}\n{done.stderr[-2000:]}"
    return done


def test_a_clone_deploys_with_the_seed_readme_commands(
    sandbox_cnv: Sandbox, tmp_path: Path
) -> None:
    checkout = tmp_path / "rhpds.litemaas"
    subprocess.run(["git", "clone", "--quiet", str(REPO), str(checkout)], check=True)
    env = {
        **os.environ,
        **sandbox_cnv.env(),
        "ANSIBLE_COLLECTIONS_PATH": str(_only_kubernetes_core(tmp_path)),
        "ANSIBLE_COLLECTIONS_SCAN_SYS_PATH": "false",
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
    }

    def sh(command: str) -> str:
        """One command line of the README, run in the checkout (`oc` spelled `kubectl` here)."""
        return _run(shlex.split(command), checkout, env).stdout

    sh("ansible-playbook playbooks/deploy_litemaas.yml --syntax-check")
    sh(
        "ansible-playbook playbooks/deploy_litemaas.yml"
        f" -e ocp4_workload_litemaas_postgres_storage_class={SEED_CNV_CLASS}"
    )
    try:
        pods = sh(f"kubectl get pods -n {NS} -l component=ai-proxy -o name").split()
        assert len(pods) == 1 and pods[0].startswith("pod/litellm-"), pods
        host = sh(f"kubectl get route litellm -n {NS} -o jsonpath='{{.spec.host}}'")
        assert host == f"litellm-{NS}.{sandbox_cnv.domain}"
        login = {
            key: base64.b64decode(
                sh(f"kubectl get secret litellm-secret -n {NS} -o jsonpath='{{.data.{key}}}'")
            ).decode()
            for key in ("UI_USERNAME", "UI_PASSWORD")
        }
        assert login["UI_USERNAME"] == "admin" and len(login["UI_PASSWORD"]) == 16
        claim = sh(f"kubectl get pvc -n {NS} -o jsonpath='{{.items[*].spec.storageClassName}}'")
        assert claim == SEED_CNV_CLASS
    finally:
        sh("ansible-playbook playbooks/deploy_litemaas.yml -e ocp4_workload_litemaas_remove=true")
    assert sandbox_cnv.kube().get(f"/api/v1/namespaces/{NS}") is None
