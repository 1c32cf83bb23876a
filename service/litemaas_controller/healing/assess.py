"""What an instance's objects say about its health: a pure function of the watched objects.

Objects are the API's JSON (dicts) as the watch keeps them.  Everything in them is cluster data:
it goes into a reason only as text, cut to a bounded length, never as a template.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from litemaas_controller.healing.model import HealthStatus

Obj = Mapping[str, Any]
#: (kind, name) -> object, for one instance in its namespace
Objects = Mapping[tuple[str, str], Obj]

#: what the deploy role creates for every instance (the exposure, Route or Ingress, is added)
REQUIRED = (
    ("Deployment", "litellm"),
    ("StatefulSet", "postgres"),
    ("Service", "litellm"),
    ("Secret", "litellm-secret"),
    ("Secret", "postgres-secret"),
)
#: container waiting reasons that do not go away by waiting
STUCK = frozenset(
    {
        "CrashLoopBackOff",
        "ImagePullBackOff",
        "ErrImagePull",
        "InvalidImageName",
        "CreateContainerConfigError",
        "CreateContainerError",
        "RunContainerError",
    }
)
PULLING = frozenset({"ErrImagePull", "ImagePullBackOff"})
MAX_TEXT = 160  # one piece of cluster text in a reason
MAX_REASON = 600


@dataclass(frozen=True)
class Verdict:
    status: HealthStatus
    reason: str = ""
    #: when (clock time) the verdict may change with no event: a crashed container that has run
    #: long enough by then counts as recovered
    recheck: float | None = None


@dataclass(frozen=True)
class Moment:
    """The clock and how long a container that crashed must run before it counts as well."""

    now: float
    settle: float


def text(value: Any, limit: int = MAX_TEXT) -> str:
    """Cluster text made safe to show: printable, one line, bounded."""
    shown = "".join(c if c.isprintable() else " " for c in str(value))
    return shown if len(shown) <= limit else shown[: limit - 1] + "…"


def _failed(reason: str, recheck: float | None = None) -> Verdict:
    return Verdict(HealthStatus.FAILED, text(reason, MAX_REASON), recheck)


def _progressing(reason: str, recheck: float | None = None) -> Verdict:
    return Verdict(HealthStatus.PROGRESSING, text(reason, MAX_REASON), recheck)


def assess(objects: Objects, exposure: str, busy: bool, moment: Moment) -> Verdict:
    """The instance's verdict: failures first (the most actionable), then what is moving."""
    if busy:
        return _progressing("a run of the instance is queued or running")
    verdicts = [
        *_missing(objects, exposure),
        *_workloads(objects),
        *_pods(objects, moment),
        *_claims(objects),
    ]
    recheck = min((v.recheck for v in verdicts if v.recheck is not None), default=None)
    for wanted in (HealthStatus.FAILED, HealthStatus.PROGRESSING):
        found = [v.reason for v in verdicts if v.status == wanted]
        if found:
            return Verdict(wanted, text("; ".join(sorted(found)), MAX_REASON), recheck)
    return Verdict(HealthStatus.HEALTHY, "", recheck)


def _missing(objects: Objects, exposure: str) -> Iterator[Verdict]:
    sts = objects.get(("StatefulSet", "postgres"))
    database_service = (sts or {}).get("spec", {}).get("serviceName") or "postgres"
    for kind, name in (*REQUIRED, ("Service", database_service), (exposure, "litellm")):
        if (kind, name) not in objects:
            yield _failed(f"{kind} {text(name)} is missing")


def _workloads(objects: Objects) -> Iterator[Verdict]:
    for (kind, name), obj in objects.items():
        if kind in ("Deployment", "StatefulSet"):
            yield from _workload(f"{kind} {text(name)}", obj)


def _workload(label: str, obj: Obj) -> Iterator[Verdict]:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    wanted = spec.get("replicas", 1)
    if wanted == 0:
        yield _failed(f"{label} is scaled to 0 replicas")
        return
    for cond in status.get("conditions") or []:
        if cond.get("reason") == "ProgressDeadlineExceeded":
            yield _failed(f"{label} exceeded its progress deadline: {text(cond.get('message'))}")
    rolling = (
        status.get("observedGeneration", 0) < obj.get("metadata", {}).get("generation", 0)
        or status.get("updatedReplicas", 0) < wanted
        or status.get("currentRevision", "") != status.get("updateRevision", "")
        or status.get("replicas", 0) > wanted
    )
    ready = status.get("readyReplicas", 0)
    if rolling:
        yield _progressing(f"{label} is rolling out ({ready} of {wanted} ready)")
    elif ready < wanted:
        yield _progressing(f"{label} has {ready} of {wanted} replicas ready")


def _pods(objects: Objects, moment: Moment) -> Iterator[Verdict]:
    for (kind, name), pod in objects.items():
        owners = {ref.get("kind") for ref in pod.get("metadata", {}).get("ownerReferences") or []}
        if kind == "Pod" and "Job" not in owners:  # a finished or failed Job pod is the Job's
            yield from _pod(f"Pod {text(name)}", pod, moment)


def _pod(label: str, pod: Obj, moment: Moment) -> Iterator[Verdict]:
    if pod.get("metadata", {}).get("deletionTimestamp"):
        yield _progressing(f"{label} is being deleted (its controller replaces it)")
        return
    status = pod.get("status") or {}
    stuck = [
        verdict
        for c in status.get("containerStatuses") or []
        if (verdict := _container(label, c, moment)) is not None
    ]
    if stuck:
        yield from stuck
    elif status.get("phase") == "Failed":
        yield _failed(f"{label} failed: {text(status.get('reason'))} {text(status.get('message'))}")
    elif status.get("phase") == "Pending":
        yield _progressing(f"{label} is starting")
    elif status.get("phase") == "Running" and not _ready(status):
        yield _not_ready(label, status, moment)


def _container(label: str, container: Obj, moment: Moment) -> Verdict | None:
    """Why a container is stuck, or None when it is not.

    A container that crashed counts as crash-looping until it has run ``settle`` seconds since:
    between two crashes it runs, and may even be ready, for a moment."""
    name = text(container.get("name"))
    waiting = (container.get("state") or {}).get("waiting") or {}
    if waiting.get("reason") in PULLING:  # the two alternate while the kubelet retries
        image = text(container.get("image"))
        return _failed(f"{label}: container {name} cannot pull its image {image}")
    if waiting.get("reason") in STUCK and waiting.get("reason") != "CrashLoopBackOff":
        message = text(waiting.get("message"))
        return _failed(f"{label}: container {name} is {waiting['reason']}: {message}")
    last = (container.get("lastState") or {}).get("terminated") or {}
    running = (container.get("state") or {}).get("running") or {}
    started = _time(running.get("startedAt")) if last.get("exitCode") else None
    recovering = started is not None and started + moment.settle > moment.now
    if waiting.get("reason") == "CrashLoopBackOff" or recovering:
        exit_code, why = last.get("exitCode", "?"), text(last.get("reason") or "no reason")
        reason = f"{label}: container {name} is crash-looping (last exit {exit_code}: {why})"
        return _failed(reason, None if started is None else started + moment.settle)
    return None


def _time(stamp: Any) -> float | None:
    try:
        return datetime.fromisoformat(str(stamp)).timestamp()
    except ValueError:
        return None


def _not_ready(label: str, status: Obj, moment: Moment) -> Verdict:
    """A pod that started less than ``settle`` seconds ago is starting; later it is failing."""
    started = [
        _time(running.get("startedAt"))
        for c in status.get("containerStatuses") or []
        if (running := (c.get("state") or {}).get("running"))
    ]
    last = max((t for t in started if t is not None), default=None)
    if last is not None and last + moment.settle > moment.now:
        return _progressing(f"{label} is starting (not ready yet)", last + moment.settle)
    return _failed(f"{label} is running but not ready: {_not_ready_detail(status)}")


def _ready(status: Obj) -> bool:
    return any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in status.get("conditions") or []
    )


def _not_ready_detail(status: Obj) -> str:
    for cond in status.get("conditions") or []:
        if cond.get("type") == "Ready":
            return text(cond.get("message") or cond.get("reason") or "Ready is False")
    return "no Ready condition"


def _claims(objects: Objects) -> Iterator[Verdict]:
    for (kind, name), claim in objects.items():
        phase = (claim.get("status") or {}).get("phase")
        if kind == "PersistentVolumeClaim" and phase == "Lost":
            yield _failed(f"PersistentVolumeClaim {text(name)} lost its volume")
        elif kind == "PersistentVolumeClaim" and phase == "Pending":
            yield _progressing(f"PersistentVolumeClaim {text(name)} is pending")
