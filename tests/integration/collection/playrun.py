"""Run the collection's playbooks for real: ansible-runner against a sandbox cluster."""

from __future__ import annotations

import os
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ansible_runner

from sandbox import Sandbox

REPO = Path(__file__).resolve().parents[3]
PLAYBOOKS = REPO / "playbooks"
COLLECTIONS = os.environ.get("ANSIBLE_COLLECTIONS_PATH") or str(REPO / ".venv" / "collections")


def kubernetes_core_dir() -> Path:
    """Where kubernetes.core is installed on the collections path."""
    for entry in COLLECTIONS.split(os.pathsep):
        candidate = Path(entry) / "ansible_collections" / "kubernetes" / "core"
        if candidate.exists():
            return candidate
    raise AssertionError(f"kubernetes.core not found on {COLLECTIONS} (run hack/setup.sh)")


@dataclass
class PlayRun:
    """What one playbook run left behind: status, per-host stats, set_stats data, events, output."""

    status: str
    rc: int
    stats: dict[str, dict[str, int]]
    set_stats: dict[str, Any]
    events: list[dict[str, Any]]
    stdout: str
    private_data_dir: Path
    seconds: float
    admin_requests: int = 0
    notes: dict[str, Any] = field(default_factory=dict)

    @property
    def changed(self) -> int:
        return sum(self.stats.get("changed", {}).values())

    @property
    def failed(self) -> bool:
        return self.status != "successful"

    def task_results(self, action: str) -> list[dict[str, Any]]:
        return [
            e["event_data"]["res"]
            for e in self.events
            if e.get("event") == "runner_on_ok" and e["event_data"].get("task_action") == action
        ]

    def changed_tasks(self) -> list[str]:
        """Names of the tasks that reported a change (no_log items included), from the output."""
        changed, task = [], "?"
        for line in self.stdout.splitlines():
            if line.startswith("TASK ["):
                task = line.split("[", 1)[1].rsplit("]", 1)[0]
            elif line.startswith("changed:") and task not in changed:
                changed.append(task)
        return changed


def run_playbook(
    sandbox: Sandbox,
    playbook: str,
    extravars: dict[str, Any],
    workdir: Path,
    inventory: dict[str, Any] | None = None,
    env: dict[str, str] | None = None,
) -> PlayRun:
    """One run, in a fresh private data dir under `workdir` (kept so tests can scan artifacts).

    `playbook` is a name under playbooks/ or an absolute path; `env` replaces the sandbox's
    environment (KUBECONFIG, K8S_AUTH_KUBECONFIG) when given.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    private = Path(os.path.realpath(workdir)) / f"run-{time.monotonic_ns()}"
    private.mkdir()
    before = len(sandbox.audit_events(user="admin"))
    env = {
        **(sandbox.env() if env is None else env),
        "ANSIBLE_COLLECTIONS_PATH": COLLECTIONS,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "ANSIBLE_NOCOLOR": "1",
    }
    started = time.monotonic()
    runner = ansible_runner.run(
        private_data_dir=str(private),
        playbook=str(PLAYBOOKS / playbook),
        extravars=extravars,
        inventory=inventory,
        envvars=env,
        quiet=True,
    )
    seconds = time.monotonic() - started
    events = list(runner.events)
    stats_events = [e for e in events if e.get("event") == "playbook_on_stats"]
    set_stats = stats_events[-1]["event_data"].get("artifact_data", {}) if stats_events else {}
    return PlayRun(
        status=runner.status,
        rc=runner.rc,
        stats=runner.stats or {},
        set_stats=set_stats,
        events=events,
        stdout=runner.stdout.read(),
        private_data_dir=private,
        seconds=seconds,
        admin_requests=len(sandbox.audit_events(user="admin")) - before,
    )


def new_namespace() -> str:
    """A namespace (and so instance) name no other test uses."""
    return f"lm-{uuid.uuid4().hex[:8]}"


def deploy(sandbox: Sandbox, workdir: Path, **extravars: Any) -> PlayRun:
    extravars.setdefault("ocp4_workload_litemaas_wait_timeout", 180)
    return run_playbook(sandbox, "deploy_litemaas.yml", extravars, workdir)


def remove(sandbox: Sandbox, workdir: Path, **extravars: Any) -> PlayRun:
    extravars.setdefault("ocp4_workload_litemaas_wait_timeout", 180)
    return run_playbook(sandbox, "remove_litemaas.yml", extravars, workdir)


def assert_ok(run: PlayRun) -> None:
    assert not run.failed, f"playbook {run.status} (rc {run.rc}):\n{run.stdout[-6000:]}"
