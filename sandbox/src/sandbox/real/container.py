"""One container of a real pod: its process, restarts with the kubelet's back-off, its status."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import signal
import subprocess
import time
from dataclasses import dataclass, field
from typing import Any

from ..agent.kube import Obj
from . import procfs
from .images import Image
from .probes import Prober

RESET_AFTER = 600.0  # a container that ran this long without failing starts its back-off afresh


def stamp(t: float) -> str:
    return dt.datetime.fromtimestamp(t, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def backoff(crashes: int, scale: float = 1.0) -> float:
    """The kubelet restarts at once after a first crash, then waits 10 s, doubling up to 5 min."""
    if crashes <= 1:
        return 0.0
    return min(10.0 * 2 ** (crashes - 2), 300.0) * scale


@dataclass
class Container:
    spec: Obj
    image: Image
    init: bool
    proc: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    env: dict[str, str] = field(default_factory=dict)
    user: tuple[int, int] | None = None
    restarts: int = 0
    crashes: int = 0  # consecutive failures, for the back-off
    next_start: float = 0.0
    last: Obj | None = None  # the previous instance's termination (lastState)
    terminated: Obj | None = None  # set when the container has ended for good
    waiting: tuple[str, str] | None = None  # (reason, message) while not running
    kill_reason: str | None = None  # OOMKilled, when the sandbox ended it for a fault
    kill_deadline: float | None = None  # after a failed liveness probe: SIGKILL at this time
    probes: dict[str, Prober] = field(default_factory=dict)
    namespace: int | None = None  # an open descriptor of the container's mount namespace

    @property
    def name(self) -> str:
        return str(self.spec["name"])

    @property
    def running(self) -> bool:
        return self.proc is not None

    @property
    def succeeded(self) -> bool:
        return self.terminated is not None and self.terminated["exitCode"] == 0

    def pid(self) -> int | None:
        """The container's main process: the launcher execs all the way to the program."""
        return self.proc.pid if self.proc is not None and self.proc.poll() is None else None

    def signal(self, signum: int) -> None:
        """Signal the main process."""
        if self.proc is None or self.proc.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.proc.pid, signum)

    def hold_namespace(self, wait: float = 0.0) -> None:
        """Open the container's mount namespace once its launcher has entered it (waiting up to
        `wait` seconds for that). Every process of the container shares it, in whatever session;
        holding it keeps its inode from naming another container's namespace once this one's
        processes are gone (the kernel reuses the number at once)."""
        deadline = time.monotonic() + wait
        while self.namespace is None and (pid := self.pid()) is not None:
            with contextlib.suppress(OSError):
                fd = os.open(f"/proc/{pid}/ns/mnt", os.O_RDONLY)
                if os.fstat(fd).st_ino != procfs.own_namespace("mnt"):
                    self.namespace = fd
                    return
                os.close(fd)  # still the launcher, before its unshare
            if time.monotonic() >= deadline:
                return
            time.sleep(0.005)

    def kill_all(self) -> None:
        """SIGKILL every process of the container, as a runtime does when the container's PID
        namespace ends: the program and whatever it started, even in sessions of their own
        (PostgreSQL's children are). The sandbox has no PID namespace; the container's mount
        namespace tells its processes apart."""
        self.signal(signal.SIGKILL)
        if self.namespace is not None:
            for pid in procfs.sharing("mnt", os.fstat(self.namespace).st_ino):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)

    def ready(self) -> bool:
        if not self.running or not self.started():
            return False
        probe = self.probes.get("readiness")
        return probe.passed if probe else True

    def started(self) -> bool:
        probe = self.probes.get("startup")
        return self.running and (probe.passed if probe else True)

    def reap(self, now: float) -> Obj | None:
        """If the process ended, record its termination and return it."""
        if self.proc is None or (code := self.proc.poll()) is None:
            return None
        self.kill_all()  # what the program left behind ends with it, as in a container
        if self.namespace is not None:
            os.close(self.namespace)
            self.namespace = None
        exit_code = code if code >= 0 else 128 - code
        reason = self.kill_reason or ("Completed" if exit_code == 0 else "Error")
        termination: Obj = {
            "exitCode": exit_code,
            "reason": reason,
            "startedAt": stamp(self.started_at),
            "finishedAt": stamp(now),
            "containerID": self.container_id(),
        }
        if code < 0:
            termination["signal"] = -code
        self.proc, self.kill_reason, self.kill_deadline, self.probes = None, None, None, {}
        if now - self.started_at > RESET_AFTER:
            self.crashes = 0
        return termination

    def container_id(self) -> str:
        return f"sandbox://{self.name}-{self.restarts}"

    def status(self, pod_name: str, initializing: bool) -> Obj:
        state: dict[str, Any]
        if self.running:
            state = {"running": {"startedAt": stamp(self.started_at)}}
        elif self.terminated is not None:
            state = {"terminated": self.terminated}
        elif self.waiting is not None:
            state = {"waiting": {"reason": self.waiting[0], "message": self.waiting[1]}}
        else:
            reason = "PodInitializing" if initializing else "ContainerCreating"
            state = {"waiting": {"reason": reason}}
        status: Obj = {
            "name": self.name,
            "image": self.spec["image"],
            "imageID": f"sandbox://{self.image.name}",
            "ready": self.succeeded if self.init else self.ready(),
            "restartCount": self.restarts,
            "state": state,
            "lastState": {"terminated": self.last} if self.last else {},
        }
        if not self.init:
            status["started"] = self.started()
        if self.running:
            status["containerID"] = self.container_id()
        return status


def crash_loop_message(container: Container, pod_name: str, delay: float) -> tuple[str, str]:
    return (
        "CrashLoopBackOff",
        f"back-off {int(delay)}s restarting failed container={container.name} pod={pod_name}",
    )
