"""The repair policy, driven by calling ``observed()`` with health values (the watch is elsewhere),
on the real ledger, dispatcher and ansible-runner running the ``repair`` fixture project, whose
repair_litemaas.yml succeeds, fails, holds or refuses as the test writes in a control file.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from kubeobjects import make_namespace
from litemaas_controller.api import keys
from litemaas_controller.config.healing import HealingMode
from litemaas_controller.healing.chain import sink_chain
from litemaas_controller.healing.model import Health, HealthStatus
from litemaas_controller.healing.policy import RepairPolicy
from sandbox import Sandbox
from waiting import wait_for

from .clikit import cli
from .credentials import BEARER
from .healthkit import ended, repairs
from .servicekit import Evidence, Service, ServiceFactory, problem

pytestmark = pytest.mark.integration

REASON = "Deployment litellm: 0/1 ready (CrashLoopBackOff)"
FAILED = Health(HealthStatus.FAILED, REASON, 1.0)


class Sink:
    """The next sink: keeps what the policy forwards and adds."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, Health]] = []

    async def observed(self, instance: str, health: Health) -> None:
        self.seen.append((instance, health))

    def statuses(self, instance: str) -> list[HealthStatus]:
        return [h.status for i, h in self.seen if i == instance]


def policy_of(svc: Service) -> tuple[RepairPolicy, Sink]:
    policy = svc.client.server.app[keys.POLICY]
    sink = Sink()
    policy.next = sink
    return policy, sink


def repair_mode(evidence: Evidence, mode: str) -> None:
    evidence.path.with_name(evidence.path.name + ".repair").write_text(mode)


async def provisioned(svc: Service, instance: str, **order_vars: Any) -> dict[str, Any]:
    order: dict[str, Any] = {"id": f"p-{instance}", "action": "provision", "instance": instance}
    if order_vars:
        order["vars"] = order_vars
    response = await svc.post_order(order)
    assert response.status == 202, await response.text()
    return await svc.finished(order["id"])


async def test_one_repair_order_per_failure_however_many_failed_observations(
    make_service: ServiceFactory,
) -> None:
    svc = await make_service("repair", repair_wait_timeout=42)
    policy, sink = policy_of(svc)
    await provisioned(svc, "one", ocp4_workload_litemaas_version="0.2.0")
    repair_mode(svc.evidence, "hold")

    await asyncio.gather(*(policy.observed("one", FAILED) for _ in range(5)))
    await wait_for(lambda: svc.evidence.count("repair") == 1, what="the repair's start")
    for _ in range(3):  # while it runs
        await policy.observed("one", FAILED)
    svc.evidence.release()
    [repair] = await ended(svc, "one", 1)

    assert repair["status"] == "succeeded" and repair["principal"] == "controller:healing"
    assert svc.evidence.count("repair") == 1 and svc.evidence.count("conflict") == 0
    # the instance's recorded vars and the decided ones, with the repair's own readiness wait
    [line] = [f for f in svc.evidence.lines() if f[1] == "repair"]
    assert line[3:] == ["one", "42", "provision", "0.2.0"]
    instance = await svc.get("/api/v1/instances/one")
    assert instance["status"] == "ready" and instance["vars"] == {
        "ocp4_workload_litemaas_version": "0.2.0"
    }
    health = instance["health"]
    assert (health["repair_budget_left"], health["repairs"]) == (2, 1)
    assert sink.statuses("one") == [HealthStatus.FAILED] * 8


async def test_no_repair_while_another_order_of_the_instance_runs(
    make_service: ServiceFactory,
) -> None:
    svc = await make_service("repair")
    policy, _ = policy_of(svc)
    await provisioned(svc, "busy")
    update = {"id": "u-busy", "action": "update", "instance": "busy",
              "vars": {"ocp4_workload_litemaas_version": "hold"}}  # fmt: skip
    assert (await svc.post_order(update)).status == 202
    await svc.evidence.started(2, "busy")

    await policy.observed("busy", FAILED)
    svc.evidence.release()
    await svc.finished("u-busy")

    assert await repairs(svc, "busy") == []
    assert svc.evidence.count("repair") == 0


async def test_backoff_then_budget_spent_degrades_until_healthy_or_a_person_asks(
    make_service: ServiceFactory, sandbox_vanilla: Sandbox
) -> None:
    backoff = 1.0
    svc = await make_service("repair", kubeconfig=str(sandbox_vanilla.kubeconfig),
                             repair_budget="2/10m", repair_backoff=backoff)  # fmt: skip
    policy, sink = policy_of(svc)
    instance, namespace = "spent", make_namespace(sandbox_vanilla.kube(), "litemaas-spent")
    await provisioned(svc, instance)
    repair_mode(svc.evidence, "fail")

    await policy.observed(instance, FAILED)
    await ended(svc, instance, 1)
    await policy.observed(instance, FAILED)  # the repair failed: the next waits its back-off
    first, second = await ended(svc, instance, 2)
    assert second["received_at"] - first["updated_at"] >= backoff / 2  # jitter takes at most half

    await policy.observed(instance, FAILED)
    await policy.observed(instance, FAILED)
    assert len(await repairs(svc, instance)) == 2 and svc.evidence.count("repair") == 2
    degraded = [h for i, h in sink.seen if h.status == HealthStatus.DEGRADED]
    assert len(degraded) == 2 and "repair budget spent" in degraded[0].reason
    assert REASON in degraded[0].reason
    events = sandbox_vanilla.kube().list(f"/api/v1/namespaces/{namespace}/events")["items"]
    [event] = [e for e in events if e["reason"] == "RepairBudgetSpent"]
    assert event["type"] == "Warning" and "repair budget spent" in event["message"]
    assert event["involvedObject"]["name"] == "litellm"
    metrics = await (await svc.client.get("/metrics")).text()
    assert 'litemaas_repairs_stopped_total{why="budget"} 1.0' in metrics
    assert "litemaas_instances_degraded 1.0" in metrics
    assert 'litemaas_repairs_total{outcome="failed"} 2.0' in metrics
    assert (await svc.get(f"/api/v1/instances/{instance}"))["health"]["repair_budget_left"] == 0

    # a person asks (the CLI's POST): repaired although the budget was spent
    repair_mode(svc.evidence, "ok")
    code, out, _ = await cli(svc, "instances", "repair", instance, "--follow")
    assert code == 0 and "accepted" in out and '"status": "succeeded"' in out, out
    third = (await repairs(svc, instance))[-1]
    assert third["principal"] == "bearer" and third["status"] == "succeeded"

    # the fault clears, then comes back: the budget is whole again, the repair is at once
    await policy.observed(instance, Health(HealthStatus.HEALTHY, "", time.time()))
    assert (await svc.get(f"/api/v1/instances/{instance}"))["health"]["repair_budget_left"] == 2
    await policy.observed(instance, FAILED)
    await ended(svc, instance, 4)
    assert svc.evidence.count("repair") == 4
    metrics = await (await svc.client.get("/metrics")).text()
    assert "litemaas_instances_degraded 0.0" in metrics


async def test_a_repair_that_refuses_to_act_degrades_at_once(
    make_service: ServiceFactory, sandbox_vanilla: Sandbox
) -> None:
    svc = await make_service("repair", kubeconfig=str(sandbox_vanilla.kubeconfig))
    policy, sink = policy_of(svc)
    namespace = make_namespace(sandbox_vanilla.kube(), "litemaas-refused")
    await provisioned(svc, "refused")
    repair_mode(svc.evidence, "permanent")

    await policy.observed("refused", FAILED)
    [repair] = await ended(svc, "refused", 1)
    assert repair["message"].startswith("permanent failure: ")
    await policy.observed("refused", FAILED)

    assert len(await repairs(svc, "refused")) == 1
    [degraded] = [h for _, h in sink.seen if h.status == HealthStatus.DEGRADED]
    assert "could not act safely" in degraded.reason and "postgres-secret" in degraded.reason
    events = sandbox_vanilla.kube().list(f"/api/v1/namespaces/{namespace}/events")["items"]
    assert [e["type"] for e in events if e["reason"] == "RepairRefused"] == ["Warning"]
    metrics = await (await svc.client.get("/metrics")).text()
    assert 'litemaas_repairs_total{outcome="refused"} 1.0' in metrics


async def test_a_destroy_supersedes_a_queued_repair(make_service: ServiceFactory) -> None:
    svc = await make_service("repair", max_concurrent_runs=1)
    policy, _ = policy_of(svc)
    await provisioned(svc, "doomed")
    other = {"id": "p-other", "action": "provision", "instance": "other",
             "vars": {"ocp4_workload_litemaas_version": "hold"}}  # fmt: skip
    assert (await svc.post_order(other)).status == 202
    await svc.evidence.started(1, "other")  # the only slot is taken

    await policy.observed("doomed", FAILED)
    [queued] = await repairs(svc, "doomed")
    assert queued["status"] == "queued"
    destroy = {"id": "d-doomed", "action": "destroy", "instance": "doomed"}
    assert (await svc.post_order(destroy)).status == 202
    svc.evidence.release()
    assert (await svc.finished("d-doomed"))["status"] == "succeeded"

    [superseded] = await repairs(svc, "doomed")
    assert superseded["status"] == "superseded" and "d-doomed" in superseded["message"]
    assert svc.evidence.count("repair") == 0


async def test_observe_mode_never_orders_a_repair(make_service: ServiceFactory) -> None:
    svc = await make_service("repair", healing="observe")
    policy, sink = policy_of(svc)
    await provisioned(svc, "watched")
    chain = sink_chain(HealingMode(svc.settings.healing), policy)
    assert chain is sink

    await chain.observed("watched", FAILED)
    assert await repairs(svc, "watched") == []
    assert svc.evidence.count("repair") == 0


@pytest.mark.parametrize(
    "name", ["Upper", "a" * 41, "-lead", "trail-", "a%0A", "a%0Ab", "a.b", "%F0%9F%98%80"]
)
async def test_a_repair_request_names_an_instance_by_its_whole_pattern(
    service: Service, name: str
) -> None:
    response = await service.client.post(f"/api/v1/instances/{name}/repair", headers=BEARER)
    await problem(response, 422)


async def test_a_repair_request_answers_like_the_other_endpoints(
    make_service: ServiceFactory,
) -> None:
    svc = await make_service("repair")
    assert (await svc.client.post("/api/v1/instances/gone/repair")).status == 401
    await problem(await svc.client.post("/api/v1/instances/nobody/repair", headers=BEARER), 404)
    await provisioned(svc, "gone")
    destroy = {"id": "d-gone", "action": "destroy", "instance": "gone"}
    assert (await svc.post_order(destroy)).status == 202
    await svc.finished("d-gone")
    body = await problem(await svc.client.post("/api/v1/instances/gone/repair", headers=BEARER),
                         409)  # fmt: skip
    assert "destroyed" in body["detail"]
    assert svc.evidence.count("repair") == 0
