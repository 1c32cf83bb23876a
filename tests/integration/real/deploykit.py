"""The collection's deploy playbook, run with ansible-runner on a sandbox as its own tests do."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

import ansible_runner

from integration.collection.playrun import COLLECTIONS, REPO
from sandbox import Sandbox


def deploy(box: Sandbox, workdir: Path, **extravars: Any) -> tuple[Any, float]:
    """Run the collection's deploy playbook with ansible-runner, as its own tests do."""
    workdir.mkdir(parents=True, exist_ok=True)
    private = workdir / f"run-{time.monotonic_ns()}"
    private.mkdir()
    extravars.setdefault("ocp4_workload_litemaas_wait_timeout", 240)
    env = {
        **box.env(),
        "ANSIBLE_COLLECTIONS_PATH": COLLECTIONS,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "ANSIBLE_NOCOLOR": "1",
    }
    started = time.monotonic()
    run = ansible_runner.run(
        private_data_dir=str(private),
        playbook=str(REPO / "playbooks" / "deploy_litemaas.yml"),
        extravars=extravars,
        envvars=env,
        quiet=True,
    )
    return run, time.monotonic() - started


def changed(run: Any) -> int:
    return sum((run.stats or {}).get("changed", {}).values())


def assert_ok(run: Any) -> None:
    assert run.status == "successful", f"playbook {run.status}:\n{run.stdout.read()[-5000:]}"
