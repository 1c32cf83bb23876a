"""Three `serve` replicas on one PostgreSQL ledger and one Redis (issue 16's must-shows): every
order run exactly once whichever replica takes it, a replica's death or pause taken over once its
run lease expired, a PostgreSQL restart ridden out, messages spread over the replicas, and the
leader's watch handed over to another replica after a kill -9.

The ``replicas`` fixture project's playbooks append ``<order id> <run id> <replica>`` to an
evidence file: what ran, where, how many times. The module's three replicas are shared by the
tests that do not stop them for good; the leader test runs its own three against the sandbox
(the watch and the repair policy on; on the shared ledger the watch would judge, and repair,
hundreds of instances without cluster objects). No test asserts how long anything took: each
waits for what it needs (a lease expired, a Lease taken over).
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

import litellm_local
from ledgerkit import PgLedger
from sandbox import Sandbox
from sandbox.agent.kube import Kube
from sandbox.throwaway_pg import ThrowawayPostgres
from waiting import wait_until

from .leaderkit import LEASES, instant, lease
from .msgkit import UPSERT, pending, send
from .procscan import run_pids
from .redisproc import RedisServer
from .replicakit import (
    Replica,
    RunEvidence,
    audit_of,
    held,
    order,
    orders_ended,
    orders_of,
    provision,
    replicas,
    round_robin,
    running,
    runs_of,
)

pytestmark = pytest.mark.integration

postgres = litellm_local.postgres

NAMES = ("r1", "r2", "r3")


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("replicas")


@pytest.fixture(scope="module")
def pg(postgres: ThrowawayPostgres, home: Path) -> PgLedger:
    return PgLedger.create(postgres, home)


@pytest.fixture(scope="module")
def evidence(home: Path) -> RunEvidence:
    return RunEvidence(home / "evidence.log")


@pytest.fixture(scope="module")
def redis_server(home: Path) -> Iterator[RedisServer]:
    with RedisServer(home / "redis") as server:
        yield server


@pytest.fixture(scope="module")
def trio(
    home: Path, pg: PgLedger, evidence: RunEvidence, redis_server: RedisServer
) -> Iterator[list[Replica]]:
    """Three replicas taking orders and messages, no cluster watch."""
    started = replicas(NAMES, home, pg, evidence.path, LITEMAAS_HEALING="off",
                       LITEMAAS_REDIS_URL=redis_server.url,
                       LITEMAAS_REDIS_CLAIM_IDLE="2")  # fmt: skip
    try:
        for replica in started:
            replica.start()
        yield started
    finally:
        for replica in started:
            replica.resume()  # a test that failed while one was paused
            replica.stop()


def test_200_orders_round_robin_each_run_exactly_once_spread_over_the_replicas(
    trio: list[Replica], pg: PgLedger, evidence: RunEvidence
) -> None:
    # 20 instances, 10 orders each: every replica is sent orders of every instance
    round_robin(trio, [order(f"a-{i:03d}", f"a{i % 20:02d}") for i in range(200)])
    ended = orders_ended(pg, "a-", 200)
    runs = evidence.runs("a")
    assert evidence.counts("a") == {f"a{i:02d}": 10 for i in range(20)}
    assert orders_of(pg, runs) == dict.fromkeys(ended, 1)  # each order run once, none lost
    assert set(ended.values()) == {"succeeded"}
    assert len({r.replica for r in runs}) > 1


def test_messages_spread_over_the_replicas_are_each_run_once(
    trio: list[Replica], pg: PgLedger, evidence: RunEvidence, redis_server: RedisServer
) -> None:
    round_robin(trio, [provision(f"m-{i}") for i in range(3)])
    assert set(orders_ended(pg, "m-", 3).values()) == {"succeeded"}
    r = redis_server.client()
    names = [f"mm-{i:02d}" for i in range(15)]
    for i, name in enumerate(names):
        send(r, name, "model.upsert", f"m-{i % 3}", {**UPSERT, "name": name})
    ended = orders_ended(pg, "msg:mm-", len(names))
    assert set(ended.values()) == {"succeeded"}
    counts = evidence.counts("msg:mm-")
    assert counts == {f"msg:{name}": 1 for name in names}, counts
    assert len({run.replica for run in evidence.runs("msg:mm-")}) > 1
    wait_until(lambda: pending(r) == 0, timeout=60, what="every entry acknowledged")


def test_postgresql_restarted_under_load_loses_no_order_and_runs_none_twice(
    trio: list[Replica], pg: PgLedger, evidence: RunEvidence, postgres: ThrowawayPostgres
) -> None:
    round_robin(trio, [order(f"d-{i:03d}", f"d{i % 6}") for i in range(18)])
    in_flight = wait_until(lambda: len(r := running(pg, "d-")) >= 2 and r, timeout=120,
                           what="runs under way")  # fmt: skip
    postgres.restart()  # fast shutdown: every connection of every replica broken
    round_robin(trio, [order(f"d-{i:03d}", f"d{i % 6}") for i in range(18, 24)])  # they carry on
    ended = orders_ended(pg, "d-", 24)
    assert set(ended.values()) == {"succeeded"}
    assert orders_of(pg, evidence.runs("d")) == dict.fromkeys(ended, 1)
    # the runs in flight through the restart went on, and their ends were recorded after it
    assert {r["status"] for o in ended for r in runs_of(pg, o) if r["id"] in in_flight} == {
        "succeeded"
    }
    assert all(replica.ready() for replica in trio)


def test_kill_9_of_the_replica_running_an_order_another_finishes_it(
    trio: list[Replica], pg: PgLedger, evidence: RunEvidence
) -> None:
    oid = "hold-b"
    first, victim = held(trio, evidence, oid)
    assert run_pids(first.run)  # its playbook runs, held
    victim.kill_container()
    assert run_pids(first.run) == []  # the playbook died with its container
    evidence.release(oid)
    [_, second] = evidence.of(oid, 2)
    assert second.replica != victim.name
    assert orders_ended(pg, oid, 1) == {oid: "succeeded"}
    runs = runs_of(pg, oid)
    assert [(r["id"], r["owner"]) for r in runs] == [(first.run, first.replica),
                                                     (second.run, second.replica)]  # fmt: skip
    assert runs[0]["status"] == "failed" and runs[1]["status"] == "succeeded"
    victim.start()  # back, as a pod restarts
    wait_until(victim.ready, timeout=60, what=f"{victim.name} ready again")
    round_robin([victim], [provision("b-after")])
    assert orders_ended(pg, "b-after", 1) == {"b-after": "succeeded"}


def test_a_replica_paused_past_its_run_lease_records_nothing_for_the_run_it_lost(
    trio: list[Replica], pg: PgLedger, evidence: RunEvidence
) -> None:
    oid = "hold-e"
    first, paused = held(trio, evidence, oid)
    paused.pause()
    try:
        [_, second] = evidence.of(oid, 2)  # its lease expired: another replica runs the order
        evidence.release(oid)  # both playbooks end well: the paused one's too
        assert orders_ended(pg, oid, 1) == {oid: "succeeded"}
        wait_until(lambda: run_pids(first.run) == [], timeout=60, what="its playbook to end")
    finally:
        paused.resume()
    wait_until(lambda: f"run {first.run} of order {oid} lost" in paused.log.read_text(),
               timeout=60, what=f"{paused.name} to find it lost {first.run}")  # fmt: skip
    assert second.replica != paused.name
    runs = runs_of(pg, oid)
    assert [(r["id"], r["owner"], r["status"]) for r in runs] == [
        (first.run, paused.name, "failed"),  # closed by the replica that took it over
        (second.run, second.replica, "succeeded"),
    ]
    assert "interrupted" in runs[0]["reason"]
    assert "run.finished" not in audit_of(pg, first.run)
    assert "run.finished" in audit_of(pg, second.run)
    assert orders_ended(pg, oid, 1) == {oid: "succeeded"}
    assert paused.ready()


def holder(kube: Kube, namespace: str, names: tuple[str, ...]) -> str | None:
    got = kube.get(LEASES.format(namespace=namespace) + "/litemaas-controller")
    found = got and got["spec"].get("holderIdentity")
    return str(found) if found in names else None


def health_of(replica: Replica, instance: str) -> str:
    status, view = replica.request("GET", f"/api/v1/instances/{instance}")
    return str(view["health"]["status"]) if status == 200 else ""


def test_kill_9_of_the_leader_another_takes_the_lease_and_heals_a_fault_injected_meanwhile(
    sandbox_vanilla: Sandbox,
    kube: Kube,
    namespace: str,
    postgres: ThrowawayPostgres,
    tmp_path: Path,
) -> None:
    """The leader dies (its container: a run of its own with it); the fault injected before
    another replica leads is found by the new leader's watch and repaired, and the dead leader's
    run is taken over once its run lease expired."""
    names = ("c1", "c2", "c3")
    watching = {"KUBECONFIG": str(sandbox_vanilla.kubeconfig), "LITEMAAS_NAMESPACE": namespace,
                "LITEMAAS_HEALING": "repair", "LITEMAAS_HEALTH_GRACE": "4",
                "LITEMAAS_REPAIR_WAIT_TIMEOUT": "30"}  # fmt: skip
    evidence = RunEvidence(tmp_path / "evidence.log")
    ledger = PgLedger.create(postgres, tmp_path)
    leader, *others = replicas(names, tmp_path, ledger, evidence.path, **watching)
    instance = f"heal-{uuid.uuid4().hex[:8]}"
    held = "hold-c"
    try:
        leader.start()  # alone: it leads, and runs what it is sent
        wait_until(lambda: holder(kube, namespace, names) == leader.name, timeout=60,
                   what=f"{leader.name} to lead")  # fmt: skip
        evidence.hold(held)
        round_robin([leader], [provision(instance), provision(held)])
        wait_until(lambda: health_of(leader, instance) == "healthy", timeout=120,
                   what=f"{instance} provisioned and seen healthy")  # fmt: skip
        [first] = evidence.of(held)
        for replica in others:
            replica.start()
        leader.kill_container()
        last = lease(kube, namespace)  # the dead leader's last renewal: nobody writes now
        sandbox_vanilla.set_fault("deployment", f"litemaas-{instance}", "litellm", "crashloop")
        evidence.release(held)
        taken_by = wait_until(lambda: (h := holder(kube, namespace, names)) != leader.name and h,
                              timeout=60, what="another leader")  # fmt: skip
        taken = lease(kube, namespace)
        wait_until(lambda: health_of(others[0], instance) == "failed", timeout=120,
                   what=f"{instance} failed")  # fmt: skip
        wait_until(lambda: health_of(others[0], instance) == "healthy", timeout=120,
                   what=f"{instance} healed")  # fmt: skip
        _, listed = others[0].request("GET", f"/api/v1/orders?instance={instance}")
        assert orders_ended(ledger, held, 1) == {held: "succeeded"}
    finally:
        for replica in others:
            replica.stop()
        kube.delete(f"/api/v1/namespaces/litemaas-{instance}")
    assert taken_by in {r.name for r in others}
    assert taken["leaseTransitions"] == last["leaseTransitions"] + 1
    expiry = instant(last["renewTime"]) + datetime.timedelta(seconds=last["leaseDurationSeconds"])
    assert instant(taken["acquireTime"]) >= expiry, (last, taken)
    repairs = [o for o in listed["items"] if o["action"] == "repair"]
    assert [(o["status"], o["principal"]) for o in repairs] == [
        ("succeeded", "controller:healing")
    ], repairs
    # the dead leader's run, closed once its lease expired, and the order run again elsewhere
    runs = [(r["id"], r["owner"], r["status"]) for r in runs_of(ledger, held)]
    assert runs[0] == (first.run, leader.name, "failed") and len(runs) == 2, runs
    assert runs[1][1] != leader.name and runs[1][2] == "succeeded", runs
