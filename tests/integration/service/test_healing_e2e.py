"""Healing end to end, through the service on the sandbox: the cluster watch finds a crash loop
on a provisioned instance, the repair policy orders one repair, the instance is healthy again.

The ``healed`` fixture project deploys the stand-in objects of the ``watched`` project; its repair
replaces LiteLLM's Deployment with the one the deploy wrote (which drops the injected fault).
"""

from __future__ import annotations

import uuid

import pytest

from sandbox import Sandbox

from .conftest import ServiceFactory
from .healthkit import ended, health, history

pytestmark = pytest.mark.integration


async def test_a_crash_loop_is_repaired_by_one_run_and_the_instance_is_healthy(
    make_service: ServiceFactory, sandbox_vanilla: Sandbox
) -> None:
    svc = await make_service("healed", kubeconfig=str(sandbox_vanilla.kubeconfig),
                             health_grace=2.0, resync_period=3600.0)  # fmt: skip
    name = f"h{uuid.uuid4().hex[:8]}"
    order = {"id": f"p-{name}", "action": "provision", "instance": name}
    assert (await svc.post_order(order)).status == 202
    assert (await svc.finished(order["id"]))["status"] == "succeeded"
    await health(svc, name, "healthy")

    sandbox_vanilla.set_fault("deployment", f"litemaas-{name}", "litellm", "crashloop")
    [repair] = await ended(svc, name, 1)
    await health(svc, name, "healthy")

    assert repair["status"] == "succeeded" and repair["principal"] == "controller:healing"
    assert svc.evidence.count("repair", name) == 1
    statuses = [t["status"] for t in await history(svc, name)]
    after = statuses[statuses.index("failed") :]
    assert after[-1] == "healthy" and "degraded" not in after, statuses
    found = await svc.get(f"/api/v1/instances/{name}")
    # healthy again: the budget is whole for the next fault
    assert found["health"]["repair_budget_left"] == 3 and found["status"] == "ready"
