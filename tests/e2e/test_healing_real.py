"""Healing end to end with real workloads: `litemaas-controller serve` with healing on (shortened
grace, back-off, budget and repair wait) watches the instance it provisioned on the sandbox, whose
LiteLLM is the real proxy on its real PostgreSQL. A model is registered (a model.upsert message)
and a virtual key issued (a key.create message); then faults are injected one after the other on
that one instance, each only once the one before has healed, and the controller must find each
and heal it through its own repair orders (`playbooks/repair_litemaas.yml`), without losing the
model, the key, `postgres-secret` or the data volume. An update order's rollout, on the same
instance, must trigger no repair. Last, with the controller stopped, `playbooks/repair_litemaas.yml`
runs directly on that instance: four faults at once restored by one run, a second run that changes
nothing (same volume, same rows), and the refusal when both Secrets are gone.

For each fault the module measures, from the fault's injection: when the instance's health first
said so (`detected_s`: `failed`, or `progressing` for what Kubernetes heals itself), when it was
`healthy` again (`healthy_s`), and the repair orders placed (`repairs`). They are printed at the
end (pytest -s) and written to `healing.json` in the module's temporary directory.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from e2e.realworld import LONG, MODEL, UPSERT, World, open_world, place_order
from integration.collection.playrun import PlayRun, run_playbook
from integration.real.podkit import condition, psql
from integration.real_litellm.curlkit import curl, shown
from litemaas_controller.dispatch.plans import order_extravars
from litemaas_controller.ledger import Action
from waiting import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1800)]

BUDGET = 2
HEALING = {
    "LITEMAAS_HEALING": "repair",
    "LITEMAAS_HEALTH_GRACE": "5",
    "LITEMAAS_REPAIR_BACKOFF": "2",
    "LITEMAAS_REPAIR_BACKOFF_MAX": "4",  # with a budget of 2 only one back-off, of at most 2 s
    "LITEMAAS_REPAIR_BUDGET": f"{BUDGET}/10m",
    # a LiteLLM start takes 20-60 s on an idle machine, minutes on a busy one
    "LITEMAAS_REPAIR_WAIT_TIMEOUT": "240",
    "LITEMAAS_RESYNC_PERIOD": "3600",  # longer than the module: the watch alone finds each fault
}
PVC = "postgres-storage-postgres-0"
#: seconds between two looks while waiting for LiteLLM (each look is HTTP calls to the controller;
#: the figures come from the ledger's timestamps, not from when a look saw them)
POLL = 1.0
#: seconds after an instance is degraded in which a repair would have been ordered, were the
#: policy still repairing: a failure's grace and the longest back-off, and a margin
QUIET = float(HEALING["LITEMAAS_HEALTH_GRACE"]) + float(HEALING["LITEMAAS_REPAIR_BACKOFF_MAX"]) + 2


@dataclass
class Healing:
    world: World
    key: str  # the virtual key issued before the faults
    base_url: str
    postgres_secret: dict[str, Any]  # its data as the cluster returns it (base64)
    pvc_uid: str
    rows: dict[str, str]  # models and keys in LiteLLM's tables before the faults
    figures: dict[str, dict[str, float]] = field(default_factory=dict)
    #: a repair run's extra vars as the controller passes them (taken before it is stopped)
    repair_vars: dict[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:  # never the key
        return f"Healing({self.world!r})"

    @property
    def ns(self) -> str:
        return self.world.ns

    def get(self, path: str) -> dict[str, Any] | None:
        found: dict[str, Any] | None = self.world.box.kube().get(f"{self.ns_path}/{path}")
        return found

    @property
    def ns_path(self) -> str:
        return f"/api/v1/namespaces/{self.ns}"

    @property
    def deployment_path(self) -> str:
        return f"/apis/apps/v1/namespaces/{self.ns}/deployments/litellm"


def health(world: World) -> dict[str, Any]:
    status, found = world.svc.request("GET", f"/api/v1/instances/{world.instance}")
    assert status == 200, found
    return dict(found["health"])


def transitions(world: World, after: int = 0) -> list[dict[str, Any]]:
    path = f"/api/v1/instances/{world.instance}/health?after={after}&limit=1000"
    status, found = world.svc.request("GET", path)
    assert status == 200, found
    return list(found["items"])


def repairs(world: World) -> list[dict[str, Any]]:
    """The instance's repair orders, oldest first."""
    status, found = world.svc.request("GET", f"/api/v1/orders?instance={world.instance}&limit=1000")
    assert status == 200, found
    return [o for o in reversed(found["items"]) if o["action"] == "repair"]


def chats(h: Healing) -> None:
    """The model registered before the faults answers a chat through the key issued before them
    (waiting, within a deadline, for the Route to reach the new pod)."""
    answer = wait_until(
        lambda: (got := h.world.chat(h.base_url, h.key, MODEL))[0] == 200 and got,
        timeout=120,
        what="a chat through the virtual key issued before the fault",
    )
    assert answer[1]["choices"][0]["message"]["content"] == "pong", shown(answer[1])


@dataclass
class Episode:
    """One fault, from its injection until the instance is healthy again."""

    name: str
    mark: int  # the last health transition before the fault
    repairs_before: int
    started: float = field(default_factory=time.time)


def inject(h: Healing, name: str, fault: Callable[[], object]) -> Episode:
    wait_until(lambda: health(h.world)["status"] == "healthy", LONG, "healthy", every=POLL)
    seen = transitions(h.world)
    episode = Episode(name, seen[-1]["seq"] if seen else 0, len(repairs(h.world)))
    fault()
    return episode


def healed(
    h: Healing, episode: Episode, through: str = "failed", until: Callable[[], bool] = lambda: True
) -> tuple[list[str], list[dict[str, Any]]]:
    """Wait until the health went through ``through`` and is ``healthy`` again, with no repair in
    flight and ``until`` true; record the episode's figures; return the statuses since the fault
    and the repair orders placed for it."""

    def probe() -> tuple[list[str], list[dict[str, Any]]] | None:
        found = transitions(h.world, episode.mark)
        statuses = [t["status"] for t in found]
        placed = repairs(h.world)[episode.repairs_before :]
        if through not in statuses or statuses[-1] != "healthy":
            return None
        if any(o["status"] in ("queued", "running") for o in placed) or not until():
            return None
        first = next(t for t in found if t["status"] == through)
        h.figures[episode.name] = {
            "detected_s": round(first["at"] - episode.started, 1),
            "healthy_s": round(found[-1]["at"] - episode.started, 1),
            "repairs": len(placed),
        }
        return statuses, placed

    what = f"{episode.name}: {through}, then healthy"
    result = wait_until(probe, timeout=2 * LONG, what=what, every=POLL)
    return result


def data_rows(world: World) -> dict[str, str]:
    """Models and keys in LiteLLM's tables (counts and ids, never a key)."""
    tables = {
        "models": "SELECT count(*) || ':' || string_agg(model_id, ',' ORDER BY model_id)"
        ' FROM "LiteLLM_ProxyModelTable"',
        "keys": "SELECT count(*) || ':' || md5(string_agg(token, ',' ORDER BY token))"
        ' FROM "LiteLLM_VerificationToken"',
    }
    kube = world.box.kube()
    return {name: psql(kube, world.ns, sql, database="litellm_db") for name, sql in tables.items()}


def one_repair_by_the_controller(placed: list[dict[str, Any]]) -> None:
    assert [o["status"] for o in placed] == ["succeeded"], placed
    assert placed[0]["principal"] == "controller:healing", placed[0]


@pytest.fixture(scope="module")
def h(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Healing]:
    base = tmp_path_factory.mktemp("healing-e2e")
    with open_world(base, "healing-e2e", **HEALING) as world:
        upsert = world.message("up-1", "model.upsert", {**UPSERT, "api_base": world.api_base})
        assert upsert["status"] == "succeeded", upsert
        body = {"alias": "team-a", "user_id": "alice", "models": [MODEL],
                "secret": {"name": "team-a-llm"}}  # fmt: skip
        issued = world.message("key-1", "key.create", body)
        assert issued["status"] == "succeeded", issued
        key, base_url = world.virtual_key("team-a-llm")
        kube = world.box.kube()
        postgres = kube.get(f"/api/v1/namespaces/{world.ns}/secrets/postgres-secret")
        claim = kube.get(f"/api/v1/namespaces/{world.ns}/persistentvolumeclaims/{PVC}")
        assert postgres is not None and claim is not None
        found = Healing(world, key, base_url, postgres["data"], claim["metadata"]["uid"],
                        data_rows(world))  # fmt: skip
        chats(found)
        started = time.monotonic()
        try:
            yield found
        finally:
            found.figures["faults_total_s"] = {"s": round(time.monotonic() - started, 1)}
            (base / "healing.json").write_text(json.dumps(found.figures, indent=2))
            print(f"\n[healing-e2e] {json.dumps(found.figures)}")


def test_an_edited_command_and_env_crash_loop_litellm_and_one_repair_heals_it(h: Healing) -> None:
    edit = {
        "name": "litellm",
        "command": ["sh", "-c", "exit 3"],
        "env": [{"name": "LITELLM_LOG", "value": "DEBUG"}],
    }
    patch = {"spec": {"template": {"spec": {"containers": [edit]}}}}
    kube = h.world.box.kube()
    episode = inject(
        h, "crashloop (command and env edited)",
        lambda: kube.request("PATCH", h.deployment_path, patch,
                             content_type="application/strategic-merge-patch+json"),
    )  # fmt: skip
    statuses, placed = healed(h, episode)
    one_repair_by_the_controller(placed)
    assert "degraded" not in statuses, statuses
    container = kube.get(h.deployment_path)["spec"]["template"]["spec"]["containers"][0]
    assert "command" not in container
    assert "LITELLM_LOG" not in [e["name"] for e in container.get("env", [])]
    status, found = h.world.svc.request("GET", f"/api/v1/instances/{h.world.instance}")
    assert status == 200, found
    # healthy again: the budget is whole for the next fault; the repair left the instance ready
    assert found["health"]["repair_budget_left"] == BUDGET and found["status"] == "ready", found
    chats(h)


def test_a_deleted_litellm_secret_is_restored_and_the_model_and_key_still_work(h: Healing) -> None:
    kube = h.world.box.kube()
    episode = inject(
        h, "litellm-secret deleted", lambda: kube.delete(f"{h.ns_path}/secrets/litellm-secret")
    )
    _, placed = healed(h, episode)
    one_repair_by_the_controller(placed)
    restored = h.get("secrets/litellm-secret")
    assert restored is not None and restored["data"]["DATABASE_URL"]
    postgres = h.get("secrets/postgres-secret")
    assert postgres is not None and postgres["data"] == h.postgres_secret
    chats(h)
    url = f"https://{h.world.host}/model/info"
    status, body = curl(h.world.box, "GET", url, key=h.world.master_key())
    assert status == 200, shown(body)
    assert MODEL in [d["model_name"] for d in body["data"]]


def test_a_deleted_service_and_a_deployment_scaled_to_zero_are_restored(h: Healing) -> None:
    kube = h.world.box.kube()
    episode = inject(
        h, "Service litellm deleted", lambda: kube.delete(f"{h.ns_path}/services/litellm")
    )
    _, placed = healed(h, episode, until=lambda: h.get("services/litellm") is not None)
    one_repair_by_the_controller(placed)
    chats(h)

    episode = inject(
        h, "Deployment litellm scaled to 0",
        lambda: kube.patch(h.deployment_path, {"spec": {"replicas": 0}}),
    )  # fmt: skip
    _, placed = healed(h, episode)
    one_repair_by_the_controller(placed)
    assert kube.get(h.deployment_path)["spec"]["replicas"] == 1
    chats(h)


def test_a_deleted_postgresql_pod_heals_without_a_repair(h: Healing) -> None:
    kube = h.world.box.kube()
    old = h.get("pods/postgres-0")
    assert old is not None
    episode = inject(
        h, "PostgreSQL pod deleted", lambda: kube.delete(f"{h.ns_path}/pods/postgres-0")
    )

    def replaced() -> bool:
        pod = h.get("pods/postgres-0")
        return pod is not None and pod["metadata"]["uid"] != old["metadata"]["uid"]

    statuses, placed = healed(h, episode, through="progressing", until=replaced)
    assert placed == []
    assert "failed" not in statuses and "degraded" not in statuses, statuses
    assert statuses[0] == "progressing", statuses
    chats(h)


def test_an_update_rolls_litellm_out_and_triggers_no_repair(h: Healing) -> None:
    kube = h.world.box.kube()
    pods = f"{h.ns_path}/pods?labelSelector=app%3Dlitellm"
    old = {p["metadata"]["uid"] for p in kube.list(pods)["items"]}
    limit = {"ocp4_workload_litemaas_litellm_memory_limit": "1100Mi"}  # a new pod template
    order = {"id": f"{h.world.instance}-u", "action": "update", "instance": h.world.instance,
             "vars": limit}  # fmt: skip
    ended: list[dict[str, Any]] = []
    episode = inject(h, "update rollout", lambda: ended.append(place_order(h.world, order)))
    assert ended[0]["status"] == "succeeded", ended

    def rolled_out() -> bool:
        found = [p for p in kube.list(pods)["items"] if not p["metadata"].get("deletionTimestamp")]
        return bool(found) and all(
            p["metadata"]["uid"] not in old and condition(p, "Ready") for p in found
        )

    # its pod replaced, not ready for a while: progressing (the run, the rollout), never failed
    statuses, placed = healed(h, episode, through="progressing", until=rolled_out)
    assert placed == []
    assert "failed" not in statuses and "degraded" not in statuses, statuses
    container = kube.get(h.deployment_path)["spec"]["template"]["spec"]["containers"][0]
    assert container["resources"]["limits"]["memory"] == "1100Mi"
    chats(h)


def test_an_image_that_cannot_be_pulled_spends_the_budget_then_heals_when_cleared(
    h: Healing,
) -> None:
    # Each repair of a fault no repair can fix waits out its whole readiness wait: the controller
    # starts again with a short one (the budget is counted from the ledger, the watch relists).
    h.world.svc.stop()
    h.world.svc.env["LITEMAAS_REPAIR_WAIT_TIMEOUT"] = "6"
    h.world.svc.start()
    box = h.world.box
    episode = inject(
        h, "imagepull", lambda: box.set_fault("deployment", h.ns, "litellm", "imagepull")
    )
    degraded = wait_until(
        lambda: (found := health(h.world))["status"] == "degraded" and found,
        timeout=2 * LONG,
        what="degraded",
        every=POLL,
    )
    assert "repair budget spent" in degraded["reason"], degraded
    assert "pull" in degraded["reason"].lower(), degraded
    placed = repairs(h.world)[episode.repairs_before :]
    assert len(placed) == BUDGET and all(o["status"] == "failed" for o in placed), placed
    events = box.kube().list(f"{h.ns_path}/events")["items"]
    warnings = [e for e in events if e.get("reason") == "RepairBudgetSpent"]
    assert warnings and warnings[-1]["type"] == "Warning", warnings

    def stopped_for_a_while() -> bool:
        """Still degraded with no further repair (checked on every look, so one fails at once),
        until the degradation is older than a failure's grace and the longest back-off."""
        assert len(repairs(h.world)) == episode.repairs_before + BUDGET
        assert health(h.world)["status"] == "degraded"
        return time.time() - degraded["since"] > QUIET

    wait_until(stopped_for_a_while, QUIET + 60, "degraded for a while, nothing run", every=POLL)

    box.clear_fault("deployment", h.ns, "litellm")
    statuses, placed = healed(h, episode)
    assert len(placed) == BUDGET, placed  # healed by clearing the fault, with no further run
    assert statuses.index("failed") < statuses.index("degraded"), statuses
    chats(h)


def test_after_every_fault_the_data_volume_and_postgres_secret_are_the_same(h: Healing) -> None:
    claim = h.get(f"persistentvolumeclaims/{PVC}")
    assert claim is not None and claim["metadata"]["uid"] == h.pvc_uid
    postgres = h.get("secrets/postgres-secret")
    assert postgres is not None and postgres["data"] == h.postgres_secret
    assert h.figures  # the faults before ran and were measured


# --- the repair playbook run directly, with the controller stopped ------------------------------


def repair(h: Healing, workdir: Path) -> PlayRun:
    return run_playbook(h.world.box, "repair_litemaas.yml", h.repair_vars, workdir)


def litellm_pods(h: Healing) -> list[dict[str, Any]]:
    pods = h.world.box.kube().list(f"{h.ns_path}/pods?labelSelector=app%3Dlitellm")["items"]
    return [p for p in pods if not p["metadata"].get("deletionTimestamp")]


def rolled_out(h: Healing) -> bool:
    dep = h.world.box.kube().get(h.deployment_path)
    status = dep.get("status", {})
    return (
        status.get("observedGeneration") == dep["metadata"]["generation"]
        and status.get("readyReplicas", 0) == dep["spec"]["replicas"] == 1
        and status.get("updatedReplicas", 0) == 1
        and status.get("replicas", 0) == 1
    )


def test_with_the_controller_stopped_four_faults_at_once_are_restored_by_one_repair_run(
    h: Healing, tmp_path: Path
) -> None:
    # The faults healed one by one above, here all together, the playbook run directly (the
    # controller stopped, its healing out of the way): it must restore each whatever state the
    # others left. Its vars are the ones the controller gives a repair of this instance.
    status, found = h.world.svc.request("GET", f"/api/v1/instances/{h.world.instance}")
    assert status == 200, found
    wait = {"ocp4_workload_litemaas_repair_wait_timeout": LONG}
    h.repair_vars = order_extravars(Action.REPAIR, h.world.instance, h.ns, wait, found["vars"])
    h.world.svc.stop()
    kube = h.world.box.kube()
    old_master = h.world.master_key()
    edit: dict[str, Any] = {
        "name": "litellm",
        "command": ["sh", "-c", "exit 3"],
        "env": [{"name": "LITELLM_LOG", "value": "DEBUG"}],
    }
    kube.request(
        "PATCH",
        h.deployment_path,
        {"spec": {"replicas": 0, "template": {"spec": {"containers": [edit]}}}},
        content_type="application/strategic-merge-patch+json",
    )
    kube.delete(f"{h.ns_path}/secrets/litellm-secret")
    kube.delete(f"{h.ns_path}/services/litellm")
    wait_until(lambda: not litellm_pods(h), timeout=120, what="no LiteLLM pod left")

    run = repair(h, tmp_path)
    assert not run.failed, f"repair {run.status} (rc {run.rc}):\n{run.stdout[-6000:]}"
    assert run.changed > 0, "the repair changed nothing"

    restored = kube.get(h.deployment_path)
    container = restored["spec"]["template"]["spec"]["containers"][0]
    assert "command" not in container
    assert "LITELLM_LOG" not in [e["name"] for e in container["env"]]
    assert restored["spec"]["replicas"] == 1
    assert any(condition(p, "Ready") for p in litellm_pods(h))  # the repair waited
    assert h.get("services/litellm") is not None
    postgres = h.get("secrets/postgres-secret")
    assert postgres is not None and postgres["data"] == h.postgres_secret
    new_master = h.world.master_key()  # restored (a new one: the old one is unknowable)
    wait_until(lambda: rolled_out(h), LONG, "Deployment litellm rolled out", every=POLL)
    # the model's upstream key, stored encrypted, still decrypts: the chat reaches the upstream
    chats(h)
    url = f"https://{h.world.host}/model/info"
    status, body = curl(h.world.box, "GET", url, key=new_master)
    assert status == 200, shown(body)
    assert MODEL in [m["model_name"] for m in body["data"]]
    if new_master != old_master:
        status, _ = curl(h.world.box, "GET", url, key=old_master)
        assert status == 401


def test_a_second_repair_run_changes_nothing_and_the_rows_are_the_same(
    h: Healing, tmp_path: Path
) -> None:
    run = repair(h, tmp_path)
    assert not run.failed, run.stdout[-6000:]
    assert run.changed == 0, run.changed_tasks()
    claim = h.get(f"persistentvolumeclaims/{PVC}")
    assert claim is not None and claim["metadata"]["uid"] == h.pvc_uid
    assert data_rows(h.world) == h.rows


def namespace_state(h: Healing) -> dict[str, str]:
    """Every object the repair could touch, by kind and name, with its resourceVersion."""
    paths = {
        "Secret": f"{h.ns_path}/secrets",
        "Service": f"{h.ns_path}/services",
        "PersistentVolumeClaim": f"{h.ns_path}/persistentvolumeclaims",
        "Deployment": f"/apis/apps/v1/namespaces/{h.ns}/deployments",
        "StatefulSet": f"/apis/apps/v1/namespaces/{h.ns}/statefulsets",
        "Route": f"/apis/route.openshift.io/v1/namespaces/{h.ns}/routes",
    }
    kube = h.world.box.kube()
    return {
        f"{kind}/{item['metadata']['name']}": item["metadata"]["resourceVersion"]
        for kind, path in paths.items()
        for item in kube.list(path)["items"]
    }


def test_both_secrets_gone_the_repair_refuses_and_changes_nothing(
    h: Healing, tmp_path: Path
) -> None:
    kube = h.world.box.kube()
    for name in ("litellm-secret", "postgres-secret"):
        kube.delete(f"{h.ns_path}/secrets/{name}")
    state = namespace_state(h)
    run = repair(h, tmp_path)
    assert run.failed
    [failed] = [e["event_data"]["res"] for e in run.events if e.get("event") == "runner_on_failed"]
    assert failed["failure_kind"] == "permanent"
    assert "postgres-secret and litellm-secret are both gone" in failed["msg"], failed["msg"]
    assert "nothing was changed" in failed["msg"]
    assert run.changed == 0
    assert namespace_state(h) == state
    claim = h.get(f"persistentvolumeclaims/{PVC}")
    assert claim is not None and claim["metadata"]["uid"] == h.pvc_uid
