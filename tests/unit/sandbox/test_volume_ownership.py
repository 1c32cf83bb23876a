"""A pod's claims as the kubelet leaves them for its fsGroup (sandbox/real/volumes.py): Kubernetes'
volume ownership on every profile, group 0 for the SCC's fsGroup on OpenShift profiles only."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

import pytest

from sandbox.real import volumes

pytestmark = pytest.mark.unit


def pod(**security: Any) -> dict[str, Any]:
    claim = {"name": "state", "persistentVolumeClaim": {"claimName": "state"}}
    return {"spec": {"securityContext": security, "volumes": [claim], "containers": []}}


def prepare(tmp_path: Path, spec: dict[str, Any], openshift: bool) -> Path:
    claim = tmp_path / "volume"
    group = volumes.fs_group(spec, openshift)
    made = volumes.prepare(spec, tmp_path / "pod", lambda *_: None, lambda _: claim, group)
    return made["state"]


def test_plain_kubernetes_leaves_a_claim_as_provisioned_without_an_fs_group(
    tmp_path: Path,
) -> None:
    root = prepare(tmp_path, pod(), openshift=False)
    info = root.stat()
    assert (info.st_gid, stat.S_IMODE(info.st_mode) & 0o2070) == (0, 0o050)


def test_an_fs_group_owns_every_file_group_writable_and_directories_setgid(tmp_path: Path) -> None:
    (tmp_path / "volume" / "runs").mkdir(parents=True, mode=0o700)
    (tmp_path / "volume" / "ledger.sqlite3").write_text("")
    (tmp_path / "volume" / "ledger.sqlite3").chmod(0o600)
    root = prepare(tmp_path, pod(fsGroup=1001), openshift=False)
    modes = {p.name: (p.stat().st_gid, stat.S_IMODE(p.stat().st_mode)) for p in root.rglob("*")}
    assert modes == {"runs": (1001, 0o2770), "ledger.sqlite3": (1001, 0o660)}
    assert (root.stat().st_gid, stat.S_IMODE(root.stat().st_mode) & 0o2770) == (1001, 0o2770)


def test_openshift_gives_group_0_for_the_scc_and_the_pods_own_fs_group_wins(
    tmp_path: Path,
) -> None:
    assert volumes.fs_group(pod(), openshift=True) == 0
    assert volumes.fs_group(pod(fsGroup=5000), openshift=True) == 5000
    root = prepare(tmp_path, pod(), openshift=True)
    assert stat.S_IMODE(root.stat().st_mode) & 0o2770 == 0o2770
