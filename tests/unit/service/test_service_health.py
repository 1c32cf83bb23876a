"""The health model: verdicts from objects (pure), the grace, and the history in the ledger."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from litemaas_controller.healing.assess import Moment, Objects, assess
from litemaas_controller.healing.health import HealthModel
from litemaas_controller.healing.model import Health, HealthStatus
from litemaas_controller.ledger import SqliteStore
from litemaas_controller.ledger.sqlite.schema import SCHEMA_VERSION

pytestmark = pytest.mark.unit

NOW = 1_800_000_000.0
AT = Moment(NOW, 60.0)


def stamp(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def workload(replicas: int = 1, ready: int = 1, **status: Any) -> dict[str, Any]:
    return {
        "metadata": {"generation": 1},
        "spec": {"replicas": replicas, "serviceName": "postgres"},
        "status": {"observedGeneration": 1, "replicas": replicas, "updatedReplicas": replicas,
                   "readyReplicas": ready, **status},
    }  # fmt: skip


def pod(ready: bool = True, **container: Any) -> dict[str, Any]:
    state = container.pop("state", {"running": {"startedAt": stamp(NOW - 3600)}})
    return {
        "metadata": {"ownerReferences": [{"kind": "ReplicaSet"}]},
        "status": {
            "phase": "Running",
            "conditions": [{"type": "Ready", "status": str(ready)}],
            "containerStatuses": [{"name": "litellm", "image": "litellm:1", "ready": ready,
                                   "restartCount": 0, "state": state, **container}],
        },
    }  # fmt: skip


def whole(**changes: Any) -> dict[tuple[str, str], Any]:
    """Every object the role creates, healthy; ``changes`` by "Kind/name" (None: missing)."""
    objects: dict[tuple[str, str], Any] = {
        ("Deployment", "litellm"): workload(),
        ("StatefulSet", "postgres"): workload(),
        ("Service", "litellm"): {},
        ("Service", "postgres"): {},
        ("Secret", "litellm-secret"): {},
        ("Secret", "postgres-secret"): {},
        ("Ingress", "litellm"): {},
        ("Pod", "litellm-abc"): pod(),
    }
    for key, value in changes.items():
        kind, _, name = key.partition("/")
        objects.pop((kind, name), None)
        if value is not None:
            objects[(kind, name)] = value
    return objects


def verdict(objects: Objects, busy: bool = False) -> tuple[str, str]:
    found = assess(objects, "Ingress", busy, AT)
    return found.status.value, found.reason


def test_whole_instance_is_healthy_and_a_run_in_flight_is_progressing() -> None:
    assert verdict(whole()) == ("healthy", "")
    assert verdict(whole(**{"Service/litellm": None}), busy=True)[0] == "progressing"


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"Secret/litellm-secret": None}, "Secret litellm-secret is missing"),
        ({"Ingress/litellm": None}, "Ingress litellm is missing"),
        ({"Deployment/litellm": workload(replicas=0, ready=0)},
         "Deployment litellm is scaled to 0 replicas"),
        ({"Pod/litellm-abc": pod(False, state={"waiting": {"reason": "ImagePullBackOff"}})},
         "Pod litellm-abc: container litellm cannot pull its image litellm:1"),
        ({"Pod/litellm-abc": pod(False, restartCount=3,
                                 state={"waiting": {"reason": "CrashLoopBackOff"}},
                                 lastState={"terminated": {"exitCode": 1, "reason": "Error",
                                                           "finishedAt": stamp(NOW - 5)}})},
         "Pod litellm-abc: container litellm is crash-looping (last exit 1: Error)"),
        ({"Pod/litellm-abc": pod(False)},
         "Pod litellm-abc is running but not ready: Ready is False"),
    ],
)  # fmt: skip
def test_failures_name_the_object_and_its_state(change: dict[str, Any], reason: str) -> None:
    assert verdict(whole(**change)) == ("failed", reason)


def test_what_kubernetes_is_fixing_is_progressing() -> None:
    deleting = pod()
    deleting["metadata"]["deletionTimestamp"] = stamp(NOW)
    starting = pod(False, state={"running": {"startedAt": stamp(NOW - 5)}})
    for change in (
        {"Pod/postgres-0": deleting},
        {"Pod/litellm-abc": starting},
        {"StatefulSet/postgres": workload(ready=0)},
        {"Deployment/litellm": workload(updatedReplicas=0)},
    ):
        assert verdict(whole(**change))[0] == "progressing", change


def test_a_crashed_container_counts_as_crash_looping_until_it_has_run_the_grace() -> None:
    crash = {"exitCode": 1, "reason": "Error", "finishedAt": stamp(NOW - 3600)}
    running = pod(restartCount=1, lastState={"terminated": crash},
                  state={"running": {"startedAt": stamp(NOW - 10)}})  # fmt: skip
    found = assess(whole(**{"Pod/litellm-abc": running}), "Ingress", False, AT)
    assert found.status == HealthStatus.FAILED and found.recheck == NOW - 10 + 60
    later = Moment(NOW + 60, 60.0)
    assert (
        assess(whole(**{"Pod/litellm-abc": running}), "Ingress", False, later).status == "healthy"
    )


def test_cluster_text_in_a_reason_stays_plain_and_bounded() -> None:
    hostile = "{{ lookup('env','HOME') }}\x1b[31m\n" + "x" * 5000
    bad = pod(
        False, state={"waiting": {"reason": "CreateContainerConfigError", "message": hostile}}
    )
    status, reason = verdict(whole(**{"Pod/litellm-abc": bad}))
    assert status == "failed" and len(reason) <= 600
    assert "\x1b" not in reason and "\n" not in reason


class Sink:
    def __init__(self) -> None:
        self.seen: list[Health] = []

    async def observed(self, instance: str, health: Health) -> None:
        self.seen.append(health)


async def test_a_failure_counts_only_once_it_has_lasted_the_grace() -> None:
    clock = [NOW]
    sink = Sink()
    model = HealthModel(sink, grace=30.0, clock=lambda: clock[0])
    broken = assess(whole(**{"Service/litellm": None}), "Ingress", False, AT)
    assert await model.judge("demo", assess(whole(), "Ingress", False, AT)) is None
    assert await model.judge("demo", broken) == NOW + 30  # look again when the grace ends
    clock[0] = NOW + 10
    assert await model.judge("demo", assess(whole(), "Ingress", False, AT)) is None  # a blip
    clock[0] = NOW + 20
    await model.judge("demo", broken)
    clock[0] = NOW + 50
    await model.judge("demo", broken)
    assert [(h.status.value, h.since) for h in sink.seen] == [
        ("healthy", NOW),
        ("failed", NOW + 20),  # since the failure began, not since it counted
    ]


async def test_a_schema_3_ledger_gains_the_health_history(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite3"
    await (await SqliteStore.open(path)).close()
    db = sqlite3.connect(path)  # as a ledger written before health was kept
    db.execute("DROP TABLE health_history")
    db.execute("UPDATE meta SET value='3' WHERE key='schema_version'")
    db.commit()
    db.close()
    store = await SqliteStore.open(path)
    try:
        assert await store.health.record("demo", "healthy", "", NOW) is not None
    finally:
        await store.close()
    db = sqlite3.connect(path)
    assert db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone() == (
        str(SCHEMA_VERSION),
    )
    db.close()
