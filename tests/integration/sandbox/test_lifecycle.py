"""A sandbox starts on free ports beside others and leaves nothing behind when stopped."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sandbox import Sandbox

pytestmark = pytest.mark.integration


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def test_two_sandboxes_side_by_side_and_clean_teardown(
    tmp_path: Path, sandbox_aws: Sandbox
) -> None:
    box = Sandbox.start(tmp_path / "second", "vanilla", parent=os.getpid())
    assert box.info["server"] != sandbox_aws.info["server"]
    assert box.kube().get("/api/v1/namespaces/default")["metadata"]["name"] == "default"
    pids = [int(line.split()[0]) for line in (box.directory / "pids").read_text().splitlines()]
    pids.append(box.supervisor_pid())
    assert len(pids) == 4 and all(alive(p) for p in pids)
    box.stop()
    assert not any(alive(p) for p in pids)
    assert not box.directory.exists()
    # the other sandbox is untouched
    assert sandbox_aws.kube().get("/api/v1/namespaces/default")
