"""One instance deployed by the collection's playbook on a sandbox with real workloads: its
LiteLLM pod runs the real proxy (sandbox/real/litellm_image.py) on the instance's real
PostgreSQL. Shared by the package's tests, since every proxy start costs 20-60 s of CPU here."""

from __future__ import annotations

import base64
import json
import os
import shutil
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from integration.real.deploykit import assert_ok, deploy
from integration.real.podkit import condition, memory_mib, processes_in
from sandbox import Sandbox
from sandbox.agent.kube import Kube
from sandbox.real.network import PodNetwork
from sandbox.real.procfs import rss_kib

# A cold proxy start on two busy cores can take minutes; the role's own wait is the judge.
WAIT = 480


@dataclass
class Instance:
    box: Sandbox
    ns: str
    workdir: Path
    host: str
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def kube(self) -> Kube:
        return self.box.kube()

    @property
    def url(self) -> str:
        return f"https://{self.host}"

    def master_key(self) -> str:
        secret = self.kube.get(f"/api/v1/namespaces/{self.ns}/secrets/litellm-secret")
        assert secret is not None, "litellm-secret is missing"
        return base64.b64decode(secret["data"]["LITELLM_MASTER_KEY"]).decode()

    def litellm_pods(self) -> list[dict[str, Any]]:
        pods = self.kube.list(f"/api/v1/namespaces/{self.ns}/pods?labelSelector=app%3Dlitellm")
        return [p for p in pods["items"] if not p["metadata"].get("deletionTimestamp")]

    def ready_pod(self) -> dict[str, Any] | None:
        ready = [p for p in self.litellm_pods() if condition(p, "Ready")]
        return ready[0] if len(ready) == 1 else None

    def pod_pids(self, pod: dict[str, Any]) -> list[int]:
        ns_path = PodNetwork(self.box.directory).path(pod["metadata"]["uid"])
        return processes_in(ns_path.stat().st_ino)

    def memory(self) -> dict[str, dict[str, float]]:
        """PSS and RSS (MiB) of every running pod of the instance: the processes in its netns.
        PSS splits pages shared with other processes (another LiteLLM on the machine)."""
        pods = self.kube.list(f"/api/v1/namespaces/{self.ns}/pods")["items"]
        found = {}
        for p in pods:
            if p.get("status", {}).get("phase") != "Running":
                continue
            try:
                pids = self.pod_pids(p)
            except OSError:
                continue
            found[p["metadata"]["name"]] = {
                "processes": len(pids),
                "pss": round(memory_mib(pids), 1),
                "rss": round(rss_kib(pids) / 1024, 1),
            }
        return found


@pytest.fixture(scope="package")
def sandbox_litellm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    """A sandbox as `make sandbox-up REAL=1` starts one (the LiteLLM runtime installed first)."""
    box = Sandbox.start(
        tmp_path_factory.mktemp("sandbox-litellm"), "aws", parent=os.getpid(), real=True
    )
    yield box
    # The pods' and the agent's logs outlive the sandbox (pytest keeps its last temporary dirs).
    kept = box.directory.parent / "logs"
    shutil.copytree(box.directory / "logs", kept, dirs_exist_ok=True, ignore_dangling_symlinks=True)
    box.stop()


@pytest.fixture(scope="package")
def instance(
    sandbox_litellm: Sandbox, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Instance]:
    """One instance (the role's defaults: PostgreSQL + LiteLLM), deployed once; the time from the
    deploy's start until its LiteLLM pod was Ready."""
    box = sandbox_litellm
    ns = f"llm-{uuid.uuid4().hex[:8]}"
    kube = box.kube()
    workdir = tmp_path_factory.mktemp("litellm-runs")
    inst = Instance(box, ns, workdir, host="")
    ready_after = watch_ready(inst)
    run, seconds = deploy(
        box, workdir, ocp4_workload_litemaas_namespace=ns, ocp4_workload_litemaas_wait_timeout=WAIT
    )
    assert_ok(run)
    route = kube.get(f"/apis/route.openshift.io/v1/namespaces/{ns}/routes/litellm")
    assert route is not None, "the role made no Route litellm"
    inst.host = route["spec"]["host"]
    inst.timings["deploy"] = seconds
    inst.timings["litellm_ready"] = ready_after()
    print(
        f"\n[litellm] cold deploy {seconds:.1f}s; LiteLLM Ready "
        f"{inst.timings['litellm_ready']:.1f}s after the deploy started"
    )
    yield inst
    report = inst.memory()
    print(f"\n[litellm] timings {json.dumps({k: round(v, 1) for k, v in inst.timings.items()})}")
    print(f"[litellm] memory at the end (MiB): {json.dumps(report)}")


def watch_ready(inst: Instance, exclude: set[str] | None = None) -> Any:
    """Start watching for a Ready LiteLLM pod (other than `exclude`); returns a function giving
    the seconds from now until it was seen (nan if never)."""
    started = time.monotonic()
    seen: list[float] = []
    done = threading.Event()
    kube = inst.box.kube()

    def loop() -> None:
        while not done.is_set():
            try:
                pods = kube.list(f"/api/v1/namespaces/{inst.ns}/pods?labelSelector=app%3Dlitellm")[
                    "items"
                ]
            except Exception:  # noqa: BLE001 (the namespace may not exist yet)
                pods = []
            for p in pods:
                if p["metadata"]["name"] not in (exclude or set()) and condition(p, "Ready"):
                    seen.append(time.monotonic() - started)
                    return
            time.sleep(0.25)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()

    def result() -> float:
        thread.join(30)
        done.set()
        return seen[0] if seen else float("nan")

    return result
