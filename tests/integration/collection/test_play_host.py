"""The role run as AgnosticD runs ocp4 workloads: the play's host (a bastion) holds the kubeconfig.

The bastion here is an inventory host whose Python runs in a private mount namespace, where a tmpfs
holding the kubeconfig is mounted over an empty directory. The Ansible controller (and this test)
sees only the empty directory, so anything the role reads or writes on the controller (a
kubernetes.core.k8s lookup) fails; everything it does on the play's host works.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from sandbox import Sandbox

from .playrun import PlayRun, assert_ok, new_namespace, run_playbook

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        os.geteuid() != 0 or not shutil.which("unshare") or not shutil.which("nsenter"),
        reason="needs root with unshare and nsenter (util-linux) for the bastion's mount namespace",
    ),
]

HERE = Path(__file__).resolve().parent
PLAYBOOK = HERE / "playbooks" / "on_a_bastion.yml"

# Runs inside the new mount namespace: mount the tmpfs, write the kubeconfig from stdin into it,
# say so, then keep the namespace alive until the test ends.
HOLD = (
    'mount -t tmpfs -o mode=0700 tmpfs "$1" && cat > "$1/kubeconfig"'
    " && echo ready && exec sleep infinity"
)


@dataclass
class Bastion:
    """The play's host: its inventory, the kubeconfig only it can read, the namespace's holder."""

    inventory: dict[str, Any]
    kubeconfig: Path
    holder: subprocess.Popen[bytes]

    def env(self) -> dict[str, str]:
        """The controller's environment: both kubeconfig variables name the bastion's path."""
        return {"KUBECONFIG": str(self.kubeconfig), "K8S_AUTH_KUBECONFIG": str(self.kubeconfig)}


@pytest.fixture(scope="module")
def bastion(sandbox_aws: Sandbox, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bastion]:
    base = tmp_path_factory.mktemp("bastion")
    hidden = base / "kube"
    hidden.mkdir()
    holder = subprocess.Popen(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c", HOLD, "hold", str(hidden)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    try:
        assert holder.stdin is not None and holder.stdout is not None
        holder.stdin.write(sandbox_aws.kubeconfig.read_bytes())
        holder.stdin.close()
        assert holder.stdout.readline() == b"ready\n", "the bastion's mount namespace did not start"
        python = base / "bastion-python"
        python.write_text(
            f'#!/bin/sh\nexec nsenter --target {holder.pid} --mount -- {sys.executable} "$@"\n'
        )
        python.chmod(0o755)
        host = {"ansible_connection": "local", "ansible_python_interpreter": str(python)}
        inventory = {"all": {"children": {"bastions": {"hosts": {"bastion": host}}}}}
        yield Bastion(inventory, hidden / "kubeconfig", holder)
    finally:
        holder.kill()
        holder.wait()


def on_bastion(sandbox: Sandbox, bastion: Bastion, workdir: Path, **extravars: Any) -> PlayRun:
    extravars.setdefault("ocp4_workload_litemaas_wait_timeout", 180)
    return run_playbook(
        sandbox, str(PLAYBOOK), extravars, workdir, inventory=bastion.inventory, env=bastion.env()
    )


def test_the_controller_cannot_read_the_kubeconfig_the_bastion_can(bastion: Bastion) -> None:
    # This process and the controller it starts share a mount namespace; the bastion's differs.
    ours = os.readlink("/proc/self/ns/mnt")
    assert os.readlink(f"/proc/{bastion.holder.pid}/ns/mnt") != ours
    assert not bastion.kubeconfig.exists()
    seen = subprocess.run(
        [
            "nsenter",
            "--target",
            str(bastion.holder.pid),
            "--mount",
            "--",
            "head",
            "-c",
            "10",
            str(bastion.kubeconfig),
        ],
        capture_output=True,
        check=True,
    )
    assert seen.stdout == b"apiVersion"


def test_deploy_converge_and_remove_from_the_play_host(
    sandbox_aws: Sandbox, bastion: Bastion, module_workdir: Path
) -> None:
    ns, kube = new_namespace(), sandbox_aws.kube()
    first = on_bastion(sandbox_aws, bastion, module_workdir, ocp4_workload_litemaas_namespace=ns)
    assert_ok(first)
    assert first.set_stats["litemaas"]["admin_url"] == f"https://litellm-{ns}.{sandbox_aws.domain}"
    dep = kube.get(f"/apis/apps/v1/namespaces/{ns}/deployments/litellm")
    assert dep and dep["status"].get("availableReplicas") == 1

    second = on_bastion(sandbox_aws, bastion, module_workdir, ocp4_workload_litemaas_namespace=ns)
    assert_ok(second)
    assert second.changed == 0, second.changed_tasks()

    removed = on_bastion(
        sandbox_aws, bastion, module_workdir, ocp4_workload_litemaas_namespace=ns, ACTION="destroy"
    )
    assert_ok(removed)
    assert removed.changed > 0
    assert kube.get(f"/api/v1/namespaces/{ns}") is None
    print(
        f"\n[collection] from a bastion: deploy {first.seconds:.1f}s, converge"
        f" {second.seconds:.1f}s, remove {removed.seconds:.1f}s"
    )
