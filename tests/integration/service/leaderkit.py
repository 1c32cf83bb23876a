"""Electors for the leader tests: in-process ones whose changes are recorded, one in a process of
its own (for kill -9), and the Lease as the cluster holds it."""

from __future__ import annotations

import asyncio
import datetime
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from litemaas_controller.cluster import KubeClient
from litemaas_controller.cluster.leader import Elector, Timings
from sandbox.agent.kube import Kube

#: short timings, in client-go's proportions (the Lease counts whole seconds)
TIMINGS = Timings(lease=4.0, renew_deadline=2.5, retry=0.5)
LEASES = "/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases"


@dataclass
class Recorder:
    """``Observer``: when (this process's wall clock) the elector started and stopped leading."""

    changes: list[tuple[float, bool]] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def leading(self, now: bool) -> None:
        self.changes.append((time.time(), now))
        self.changed.set()

    def at(self, leading: bool) -> list[float]:
        return [at for at, now in self.changes if now == leading]


@dataclass
class Candidate:
    elector: Elector
    recorder: Recorder
    task: asyncio.Task[None]

    async def stop(self) -> None:
        """A clean stop (shutdown): the work ends and the Lease is released."""
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)


def candidate(kubeconfig: Path, namespace: str, identity: str,
              timings: Timings = TIMINGS) -> Candidate:  # fmt: skip
    recorder = Recorder()
    elector = Elector(KubeClient(str(kubeconfig)), namespace, identity, timings, recorder)
    task = asyncio.create_task(elector.run(asyncio.Event().wait), name=f"elector:{identity}")
    return Candidate(elector, recorder, task)


async def leads(*candidates: Candidate, timeout: float = 60) -> Candidate:
    """The first of ``candidates`` seen leading."""
    deadline = time.monotonic() + timeout
    while not (leading := [c for c in candidates if c.elector.leads]):
        assert time.monotonic() < deadline, "nobody leads"
        await asyncio.sleep(0.05)
    return leading[0]


def lease(kube: Kube, namespace: str) -> dict[str, Any]:
    """The Lease's spec as the cluster holds it."""
    got = kube.get(LEASES.format(namespace=namespace) + "/litemaas-controller")
    assert got is not None, "no Lease"
    return dict(got["spec"])


def instant(micro_time: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(micro_time.replace("Z", "+00:00"))


class ElectorProcess:
    """An elector in a process of its own: it prints ``leads`` once it leads."""

    def __init__(self, kubeconfig: Path, namespace: str, identity: str) -> None:
        script = Path(__file__).with_name("elector_main.py")
        timings = (TIMINGS.lease, TIMINGS.renew_deadline, TIMINGS.retry)
        args = [sys.executable, str(script), str(kubeconfig), namespace, identity,
                *(str(t) for t in timings)]  # fmt: skip
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)

    async def leads(self) -> None:
        assert self.proc.stdout is not None
        line = await asyncio.to_thread(self.proc.stdout.readline)
        assert line.strip() == "leads", line

    def kill9(self) -> None:
        self.proc.kill()
        self.proc.wait()
