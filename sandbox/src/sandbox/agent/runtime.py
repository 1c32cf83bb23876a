"""Container runtimes of the node agent. The simulated one drives status from the pod spec alone.

A runtime answers one question, "what is this pod's status now, and when will it next change?",
so the agent can stay the same when a runtime that runs real processes is plugged in beside it.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

from .kube import Obj

PULL_RETRY = 1.0  # seconds of ErrImagePull before the kubelet reports ImagePullBackOff
FAULTS = ("crashloop", "imagepull", "notready", "oomkilled", "delete", "fail")


class Runtime(Protocol):
    def sync(self, pod: Obj, fault: str | None) -> tuple[list[Obj], list[Obj], float | None]:
        """(init container statuses, container statuses, seconds until the next change)."""

    def stop(self, pod: Obj) -> float | None:
        """The pod is going away: release whatever the runtime holds for it. A number means "not
        gone yet, ask again in that many seconds"; the deletion is confirmed only after None."""

    def pod_ip(self, pod: Obj) -> str | None:
        """The pod's address when the runtime gives it one (None: the agent picks one)."""


def stamp(t: float) -> str:
    return dt.datetime.fromtimestamp(t, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def kubelet_backoff(restarts: int) -> int:
    """The kubelet's crash back-off in seconds: 10 s doubling up to 5 minutes."""
    return int(min(10 * 2 ** max(restarts - 1, 0), 300))


@dataclass
class _Container:
    name: str
    image: str
    run_once: bool  # a Job's container (restartPolicy Never/OnFailure): it terminates by itself
    restarts: int = 0
    state: str = "running"  # running | backoff | pullfail | exited
    since: float = 0.0
    until: float | None = None  # when the current state ends by itself
    exit_code: int = 0
    last: Obj | None = None


@dataclass
class SimulatedRuntime:
    """Containers that "run" in memory. Time constants are the kubelet's, scaled by `time_scale`."""

    time_scale: float = 0.1
    job_seconds: float = 0.3
    crash_after: float = 0.5
    ready_delay_cap: float = 1.0
    _pods: dict[str, dict[str, _Container]] = field(default_factory=dict)

    def stop(self, pod: Obj) -> float | None:
        self._pods.pop(pod["metadata"]["uid"], None)
        return None

    def pod_ip(self, pod: Obj) -> str | None:
        return None

    def sync(self, pod: Obj, fault: str | None) -> tuple[list[Obj], list[Obj], float | None]:
        now = time.time()
        spec = pod["spec"]
        run_once = spec.get("restartPolicy", "Always") != "Always"
        containers = self._pods.setdefault(pod["metadata"]["uid"], {})
        next_change: list[float] = []
        statuses = []
        for c in spec["containers"]:
            state = containers.get(c["name"])
            if state is None:
                state = containers[c["name"]] = _Container(
                    c["name"], c["image"], run_once, since=now
                )
                if run_once:
                    state.until = now + self.job_seconds
            self._advance(state, fault, spec.get("restartPolicy", "Always"), now)
            if state.until is not None and state.until > now:
                next_change.append(state.until - now)
            ready, ready_in = self._ready(c, state, fault, now)
            if ready_in is not None:
                next_change.append(ready_in)
            statuses.append(self._status(state, ready, pod["metadata"]["name"]))
        init_statuses = [self._init_status(c, pod) for c in spec.get("initContainers", [])]
        wake = max(min(next_change), 0.05) if next_change else None
        return init_statuses, statuses, wake

    def _advance(self, s: _Container, fault: str | None, policy: str, now: float) -> None:
        """Move a container through its states up to `now`."""
        for _ in range(50):  # bounded: each pass consumes one elapsed transition
            if s.state == "running":
                if fault in ("crashloop", "oomkilled", "fail") and s.until is None:
                    # the fault starts now, not when the container started
                    s.until = max(s.since + self.crash_after, now)
                if fault == "imagepull":
                    self._terminate(s, now, 2, "Error")
                    s.state, s.since, s.until = "pullfail", now, now + PULL_RETRY
                    continue
                if s.until is None or s.until > now:
                    return
                failed = fault in ("crashloop", "oomkilled", "fail")
                code, reason = (137, "OOMKilled") if fault == "oomkilled" else (1, "Error")
                self._terminate(
                    s, s.until, code if failed else 0, reason if failed else "Completed"
                )
                if s.run_once and (policy == "Never" or not failed):
                    s.state, s.until = "exited", None
                    return
                s.restarts += 1
                s.state, s.since = "backoff", s.last["finishedAt_t"] if s.last else now
                s.until = s.since + kubelet_backoff(s.restarts) * self.time_scale
            elif s.state in ("backoff", "pullfail"):
                if fault == "imagepull":
                    if s.state != "pullfail":
                        s.state, s.since, s.until = "pullfail", now, now + PULL_RETRY
                    return
                if s.state == "pullfail" or s.until is None or s.until <= now:
                    start = s.until if s.state == "backoff" and s.until is not None else now
                    s.state, s.since = "running", start
                    s.until = start + self.job_seconds if s.run_once else None
                    continue
                return
            else:
                return

    @staticmethod
    def _terminate(s: _Container, at: float, code: int, reason: str) -> None:
        s.exit_code = code
        s.last = {
            "exitCode": code,
            "reason": reason,
            "startedAt": stamp(s.since),
            "finishedAt": stamp(at),
            "finishedAt_t": at,
            "containerID": f"sandbox://{s.name}-{s.restarts}",
        }

    def _ready(
        self, c: Obj, s: _Container, fault: str | None, now: float
    ) -> tuple[bool, float | None]:
        if s.state != "running" or fault == "notready":
            return False, None
        probe = c.get("readinessProbe")
        delay = (
            min(float(probe.get("initialDelaySeconds", 0)), self.ready_delay_cap) if probe else 0
        )
        remaining = s.since + delay - now
        return (remaining <= 0, None) if remaining <= 0 else (False, remaining)

    def _status(self, s: _Container, ready: bool, pod_name: str) -> Obj:
        state: dict[str, Any]
        if s.state == "running":
            state = {"running": {"startedAt": stamp(s.since)}}
        elif s.state == "exited":
            state = {"terminated": _public(s.last)}
        elif s.state == "pullfail":
            pulling = time.time() - s.since < PULL_RETRY
            state = {
                "waiting": {
                    "reason": "ErrImagePull" if pulling else "ImagePullBackOff",
                    "message": (
                        f"rpc error: code = Unknown desc = reading manifest {s.image}: "
                        "manifest unknown"
                        if pulling
                        else f'Back-off pulling image "{s.image}"'
                    ),
                }
            }
        else:
            state = {
                "waiting": {
                    "reason": "CrashLoopBackOff",
                    "message": f"back-off {kubelet_backoff(s.restarts)}s restarting failed "
                    f"container={s.name} pod={pod_name}",
                }
            }
        status: Obj = {
            "name": s.name,
            "image": s.image,
            "imageID": f"sandbox://{s.image}",
            "ready": ready,
            "restartCount": s.restarts,
            "started": s.state == "running",
            "state": state,
            "lastState": {"terminated": _public(s.last)} if s.last and s.state != "exited" else {},
        }
        if s.state == "running":
            status["containerID"] = f"sandbox://{s.name}-{s.restarts}"
        return status

    @staticmethod
    def _init_status(c: Obj, pod: Obj) -> Obj:
        started = pod.get("status", {}).get("startTime") or stamp(time.time())
        return {
            "name": c["name"],
            "image": c["image"],
            "imageID": f"sandbox://{c['image']}",
            "ready": True,
            "restartCount": 0,
            "state": {
                "terminated": {
                    "exitCode": 0,
                    "reason": "Completed",
                    "startedAt": started,
                    "finishedAt": started,
                }
            },
            "lastState": {},
        }


def _public(last: Obj | None) -> Obj:
    return {k: v for k, v in (last or {}).items() if not k.endswith("_t")}
