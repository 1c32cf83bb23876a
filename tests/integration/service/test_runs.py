"""Runs through the real ansible-runner: results, failures, ordering, supersede, cancel, timeout."""

from __future__ import annotations

import pytest

from .credentials import BEARER
from .procscan import alive, run_pids
from .servicekit import ServiceFactory

pytestmark = pytest.mark.integration


def order(oid: str, action: str = "provision", instance: str = "demo", **variables: object) -> dict:
    body: dict = {"id": oid, "action": action, "instance": instance}
    if variables:
        body["vars"] = {f"ocp4_workload_litemaas_{k}": v for k, v in variables.items()}
    return body


async def test_failing_playbook_fails_the_order_and_the_instance(
    make_service: ServiceFactory,
) -> None:
    svc = await make_service("failing")
    assert (await svc.post_order(order("o1"))).status == 202
    final = await svc.finished("o1")
    assert final["status"] == "failed"
    # the reason names the failed task and what it said
    assert (
        final["message"]
        == "playbook failed (rc 2): Fail like a broken cluster would: the cluster said no"
    )
    [run] = (await svc.get("/api/v1/orders/o1"))["runs"]
    assert run["status"] == "failed" and run["rc"] == 2
    events = (await svc.get(f"/api/v1/runs/{run['id']}/events"))["items"]
    failed = [e for e in events if e["status"] == "failed"]
    assert failed and "the cluster said no" in failed[0]["stdout"]
    assert (await svc.get("/api/v1/instances/demo"))["status"] == "failed"


async def test_update_merges_the_recorded_vars(make_service: ServiceFactory) -> None:
    svc = await make_service("quick")
    first = order("o1", version="0.2.0", postgres_storage_class="fast-ssd")
    assert (await svc.post_order(first)).status == 202
    await svc.finished("o1")
    assert (await svc.post_order(order("o2", "update", version="0.3.0"))).status == 202
    final = await svc.finished("o2")
    assert final["results"]["version"] == "0.3.0"
    assert final["results"]["storage_class"] == "fast-ssd"  # recorded by the provision
    [run] = (await svc.get("/api/v1/orders/o2"))["runs"]
    assert run["vars"]["ACTION"] == "provision"
    assert run["vars"]["ocp4_workload_litemaas_user_info_secrets"] is False
    instance = await svc.get("/api/v1/instances/demo")
    assert instance["vars"] == {
        "ocp4_workload_litemaas_version": "0.3.0",
        "ocp4_workload_litemaas_postgres_storage_class": "fast-ssd",
    }
    assert instance["status"] == "ready" and instance["last_order"] == "o2"


async def test_destroy_runs_the_remove_playbook(make_service: ServiceFactory) -> None:
    svc = await make_service("quick")
    await svc.post_order(order("o1"))
    await svc.finished("o1")
    await svc.post_order(order("o2", "destroy"))
    assert (await svc.finished("o2"))["status"] == "succeeded"
    [run] = (await svc.get("/api/v1/orders/o2"))["runs"]
    assert run["playbook"] == "remove_litemaas.yml" and run["vars"]["ACTION"] == "destroy"
    assert (await svc.get("/api/v1/instances/demo"))["status"] == "destroyed"


async def test_one_run_per_instance_at_a_time_in_arrival_order(
    make_service: ServiceFactory,
) -> None:
    svc = await make_service("hold", max_concurrent_runs=4)
    for oid in ("o1", "o2", "o3"):
        assert (
            await svc.post_order(order(oid, "update" if oid != "o1" else "provision"))
        ).status == 202
    await svc.evidence.started(1)
    assert (await svc.get("/api/v1/orders/o2"))["status"] == "queued"
    assert (await svc.get("/api/v1/orders/o3"))["status"] == "queued"
    svc.evidence.release()
    results = [await svc.finished(oid) for oid in ("o1", "o2", "o3")]
    assert [r["status"] for r in results] == ["succeeded"] * 3
    assert svc.evidence.count("conflict") == 0
    kinds = [f[1] for f in svc.evidence.lines()]
    assert kinds == ["start", "end"] * 3  # strictly one after the other
    runs = (await svc.get("/api/v1/runs"))["items"]
    by_order = sorted(runs, key=lambda r: r["started_at"])
    assert [r["order_id"] for r in by_order] == ["o1", "o2", "o3"]


async def test_instances_run_in_parallel_up_to_the_global_cap(make_service: ServiceFactory) -> None:
    svc = await make_service("hold", max_concurrent_runs=2)
    for name in ("a", "b", "c"):
        assert (await svc.post_order(order(f"o-{name}", instance=name))).status == 202
    await svc.evidence.started(2)
    statuses = {n: (await svc.get(f"/api/v1/orders/o-{n}"))["status"] for n in "abc"}
    assert sorted(statuses.values()) == ["queued", "running", "running"]
    metrics = await (await svc.client.get("/metrics")).text()
    assert "litemaas_runs_in_flight 2.0" in metrics
    assert "litemaas_queue_depth 1.0" in metrics
    svc.evidence.release()
    for name in "abc":
        assert (await svc.finished(f"o-{name}"))["status"] == "succeeded"


async def test_destroy_supersedes_queued_provisions_and_updates(
    make_service: ServiceFactory,
) -> None:
    svc = await make_service("hold")
    await svc.post_order(order("o1"))
    await svc.evidence.started(1)
    await svc.post_order(order("o2", "update", version="0.3.0"))
    await svc.post_order(order("o3", "destroy"))
    o2 = await svc.get("/api/v1/orders/o2")
    assert o2["status"] == "superseded" and "o3" in o2["message"] and o2["runs"] == []
    svc.evidence.release()
    assert (await svc.finished("o1"))["status"] == "succeeded"  # a running order is not touched
    assert (await svc.finished("o3"))["status"] == "succeeded"
    assert (await svc.get("/api/v1/instances/demo"))["status"] == "destroyed"
    audit_kinds = {r[3] for r in svc.ledger()["audit"]}
    assert {"order.accepted", "order.superseded", "run.started", "run.finished"} <= audit_kinds


async def test_cancel_ends_every_process_of_the_run(make_service: ServiceFactory) -> None:
    svc = await make_service("hold")
    await svc.post_order(order("o1"))
    await svc.evidence.started(1)
    run = await svc.running_run("o1")
    shell = svc.evidence.pids("start")[0]
    assert alive(shell) and run_pids(run["id"])  # the tree exists before
    response = await svc.client.post(f"/api/v1/runs/{run['id']}/cancel", headers=BEARER)
    assert response.status == 200, await response.text()
    assert (await response.json())["status"] == "cancelled"
    assert run_pids(run["id"]) == []
    assert not alive(shell)
    assert svc.evidence.count("end") == 0
    assert (await svc.finished("o1"))["status"] == "cancelled"
    again = await svc.client.post(f"/api/v1/runs/{run['id']}/cancel", headers=BEARER)
    assert again.status == 409
    assert list(svc.settings.runs_dir.iterdir()) == []  # private dir removed


async def test_timeout_ends_the_run_and_fails_the_order(make_service: ServiceFactory) -> None:
    # long enough for ansible-playbook to start on a loaded machine; the hold never ends by itself
    svc = await make_service("hold", run_timeout=10.0)
    await svc.post_order(order("o1"))
    await svc.evidence.started(1)
    run = await svc.running_run("o1")
    final = await svc.finished("o1")
    assert final["status"] == "failed" and "timed out" in final["message"]
    assert (await svc.get(f"/api/v1/runs/{run['id']}"))["status"] == "timeout"
    assert run_pids(run["id"]) == []
    assert not alive(svc.evidence.pids("start")[0])


async def test_run_events_are_streamed_live_and_listed(make_service: ServiceFactory) -> None:
    svc = await make_service("hold")
    await svc.post_order(order("o1"))
    run = await svc.running_run("o1")
    svc.evidence.release()
    events = await svc.follow(f"/api/v1/runs/{run['id']}/events")
    kinds = [k for k, _ in events]
    assert kinds[-1] == "end" and events[-1][1]["status"] == "succeeded"
    tasks = [
        d["task"] for k, d in events if k == "event" and d["event"] == "playbook_on_task_start"
    ]
    assert tasks == ["Hold the instance until released", "Publish the results for the controller"]
    seqs = [d["seq"] for k, d in events if k == "event"]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    listed = (await svc.get(f"/api/v1/runs/{run['id']}/events"))["items"]
    assert [e["seq"] for e in listed] == seqs


async def test_metrics_count_orders_and_runs_without_payloads(make_service: ServiceFactory) -> None:
    svc = await make_service("quick")
    await svc.post_order(order("secret-looking-order-id", version="0.2.0"))
    await svc.finished("secret-looking-order-id")
    text = await (await svc.client.get("/metrics")).text()
    assert 'litemaas_orders{status="succeeded"} 1.0' in text
    assert 'litemaas_run_duration_seconds_count{action="provision",status="succeeded"} 1.0' in text
    assert 'litemaas_order_requests_total{answer="accepted"} 1.0' in text
    assert "secret-looking-order-id" not in text and "0.2.0" not in text


async def test_the_audit_trail_says_who_did_what_from_where(make_service: ServiceFactory) -> None:
    svc = await make_service("hold")
    await svc.post_order(order("o1"))
    run = await svc.running_run("o1")
    await svc.client.post(f"/api/v1/runs/{run['id']}/cancel", headers=BEARER)
    await svc.finished("o1")
    accepted = (await svc.get("/api/v1/audit?subject=o1"))["items"]
    assert [(e["action"], e["actor"]) for e in accepted] == [("order.accepted", "hmac")]
    assert accepted[0]["source"].startswith("http:127.0.0.1")
    actions = [e["action"] for e in (await svc.get(f"/api/v1/audit?subject={run['id']}"))["items"]]
    assert actions == ["run.started", "run.cancel_requested", "run.finished"]
