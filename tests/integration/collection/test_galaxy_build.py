"""`ansible-galaxy collection build` makes a tarball that installs and runs by FQCN."""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import uuid
from pathlib import Path

import pytest

from sandbox import Sandbox

from .playrun import REPO, kubernetes_core_dir, new_namespace

pytestmark = pytest.mark.integration

BIN = Path(sys.executable).parent


def test_built_tarball_installs_and_deploys_by_fqcn(sandbox_aws: Sandbox, tmp_path: Path) -> None:
    subprocess.run(
        [BIN / "ansible-galaxy", "collection", "build", str(REPO), "--output-path", str(tmp_path)],
        check=True,
        capture_output=True,
        text=True,
    )
    (tarball,) = tmp_path.glob("rhpds-litemaas-*.tar.gz")
    with tarfile.open(tarball) as tar:
        names = tar.getnames()
    assert "roles/ocp4_workload_litemaas/meta/argument_specs.yml" in names
    assert "plugins/action/agnosticd_user_info.py" in names
    assert not [
        n for n in names if n.startswith(("tests/", "sandbox/", "service/", ".venv", ".git/"))
    ]

    installed = tmp_path / "installed"
    env = {**os.environ, "ANSIBLE_COLLECTIONS_PATH": str(installed)}
    subprocess.run(
        [
            BIN / "ansible-galaxy",
            "collection",
            "install",
            str(tarball),
            "-p",
            str(installed),
            "--no-deps",
            "--force",
        ],
        check=True,
        capture_output=True,
        text=True,
        env=env,
    )
    # Only the installed copy and kubernetes.core are visible: the repository itself is not.
    core = tmp_path / "core" / "ansible_collections" / "kubernetes"
    core.mkdir(parents=True)
    (core / "core").symlink_to(kubernetes_core_dir())
    env = {
        **os.environ,
        **sandbox_aws.env(),
        "ANSIBLE_COLLECTIONS_PATH": f"{installed}{os.pathsep}{tmp_path / 'core'}",
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    ns = new_namespace()
    kube = sandbox_aws.kube()
    route_name = f"rn{uuid.uuid4().hex[:6]}"
    # The removal by FQCN only needs to resolve: an instance that does not exist is removed
    # without change (the removal itself is tested in test_deploy.py), which keeps this test short.
    for playbook in ("rhpds.litemaas.remove_litemaas", "rhpds.litemaas.deploy_litemaas"):
        done = subprocess.run(
            [
                BIN / "ansible-playbook",
                playbook,
                "-e",
                f"ocp4_workload_litemaas_namespace={ns}",
                "-e",
                f"ocp4_workload_litemaas_route_name={route_name}",
                "-e",
                "ocp4_workload_litemaas_user_info_secrets=false",
            ],
            check=False,
            capture_output=True,
            text=True,
            env=env,
            cwd=tmp_path,
            timeout=600,
        )
        assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
        if playbook.endswith("deploy_litemaas"):
            # A route_name gives the 0.1.2 host form litellm-<route_name>.<domain>.
            route = kube.get(f"/apis/route.openshift.io/v1/namespaces/{ns}/routes/litellm")
            assert route["spec"]["host"] == f"litellm-{route_name}.{sandbox_aws.domain}"
        assert ("changed=0" in done.stdout) == playbook.endswith("remove_litemaas")
    kube.delete(f"/api/v1/namespaces/{ns}")
