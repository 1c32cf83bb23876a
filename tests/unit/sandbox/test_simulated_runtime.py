"""The simulated container runtime follows the kubelet's state machine, on a fake clock."""

from __future__ import annotations

from typing import Any

import pytest

from sandbox.agent import runtime
from sandbox.agent.runtime import SimulatedRuntime, kubelet_backoff

pytestmark = pytest.mark.unit


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(runtime.time, "time", fake)
    return fake


def pod(policy: str = "Always", probe_delay: int | None = None) -> dict[str, Any]:
    container: dict[str, Any] = {"name": "main", "image": "img:1"}
    if probe_delay is not None:
        container["readinessProbe"] = {"initialDelaySeconds": probe_delay}
    return {
        "metadata": {"uid": "u1", "name": "p"},
        "spec": {"restartPolicy": policy, "containers": [container]},
    }


def test_kubelet_backoff_doubles_from_10s_to_5min() -> None:
    assert [kubelet_backoff(n) for n in range(1, 8)] == [10, 20, 40, 80, 160, 300, 300]


def test_crash_loop_restarts_with_growing_backoff(clock: Clock) -> None:
    rt = SimulatedRuntime(time_scale=1.0)
    p = pod()
    rt.sync(p, None)
    clock.now += 1
    seen = []
    for _ in range(40):
        _, (status,), wake = rt.sync(p, "crashloop")
        seen.append((status["restartCount"], (status["state"].get("waiting") or {}).get("reason")))
        clock.now += wake or 1
    restarts = [r for r, _ in seen]
    assert restarts == sorted(restarts) and restarts[-1] >= 4
    assert "CrashLoopBackOff" in {reason for _, reason in seen}
    # the wait before restart n is the kubelet's back-off for n
    _, (status,), wake = rt.sync(p, "crashloop")
    if status["state"].get("waiting"):
        assert wake is not None and wake <= kubelet_backoff(status["restartCount"])


def test_clearing_a_fault_keeps_the_restart_count(clock: Clock) -> None:
    rt = SimulatedRuntime(time_scale=0.01)
    p = pod()
    for _ in range(20):
        _, (status,), wake = rt.sync(p, "oomkilled")
        clock.now += wake or 0.1
    assert status["lastState"]["terminated"]["reason"] == "OOMKilled"
    crashed = status["restartCount"]
    for _ in range(5):
        _, (status,), wake = rt.sync(p, None)
        clock.now += wake or 1
    assert status["ready"] and status["state"]["running"]
    assert status["restartCount"] == crashed


def test_job_container_exits_zero_once(clock: Clock) -> None:
    rt = SimulatedRuntime()
    p = pod(policy="Never")
    _, (status,), wake = rt.sync(p, None)
    assert status["state"]["running"] and wake is not None
    clock.now += wake
    _, (status,), wake = rt.sync(p, None)
    assert status["state"]["terminated"] == {
        "exitCode": 0,
        "reason": "Completed",
        "startedAt": status["state"]["terminated"]["startedAt"],
        "finishedAt": status["state"]["terminated"]["finishedAt"],
        "containerID": "sandbox://main-0",
    }
    assert wake is None and status["restartCount"] == 0


def test_readiness_waits_for_the_probe_delay(clock: Clock) -> None:
    rt = SimulatedRuntime(ready_delay_cap=5)
    p = pod(probe_delay=3)
    _, (status,), wake = rt.sync(p, None)
    assert status["ready"] is False and wake == pytest.approx(3)
    clock.now += 3
    _, (status,), _ = rt.sync(p, None)
    assert status["ready"] is True
