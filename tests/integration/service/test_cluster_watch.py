"""The cluster watch: health found from a real kube-apiserver's objects, through faults, restarts.

The module uses the session's vanilla sandbox (one test restarts its kube-apiserver, one compacts
and restarts its etcd). Instances are provisioned through the service with the ``watched`` fixture
project, which creates the objects the deploy role would (labelled alike; the node agent runs
stand-in pods); a test breaks something and waits for the service to say so.  The tests share one
service (those that need a service of their own start it: another kubeconfig, another ledger) and
one instance, which they leave healthy; a test that leaves its instance broken provisions its own.
The resync period is far longer than the module: whatever is found is found by the watch itself.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import pytest_asyncio
from aiohttp.test_utils import TestClient, TestServer

import litellm_local
from ledgerkit import PgLedger
from litemaas_controller.api import make_app
from sandbox import Sandbox
from sandbox.agent.kube import Kube
from sandbox.throwaway_pg import ThrowawayPostgres
from waiting import wait_for_async, wait_until

from .credentials import BEARER
from .healthkit import health, history
from .partition import Partition
from .servicekit import Evidence, Service, ServiceFactory, base_settings

pytestmark = pytest.mark.integration
#: the tests on the module's service run on the module's event loop, the service's
shared = pytest.mark.asyncio(loop_scope="module")

GRACE = 3.0
#: health only: these tests watch faults last, the repair policy would end them
WATCHING = {"health_grace": GRACE, "resync_period": 3600.0, "healing": "observe"}

postgres = litellm_local.postgres


@pytest.fixture
def sandbox(sandbox_vanilla: Sandbox) -> Sandbox:
    """The session's plain-Kubernetes sandbox (Ingress, no Route API)."""
    return sandbox_vanilla


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def watcher(
    sandbox_vanilla: Sandbox, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Service]:
    """The module's service, watching the vanilla sandbox."""
    tmp = tmp_path_factory.mktemp("cluster-watch")
    settings = base_settings(tmp, "watched", kubeconfig=str(sandbox_vanilla.kubeconfig), **WATCHING)
    with pytest.MonkeyPatch.context() as env:  # runs find ansible-playbook, as with ``run_env``
        env.setenv("PATH", str(Path(sys.executable).parent) + os.pathsep + os.environ["PATH"])
        client = TestClient(TestServer(make_app(settings, ()), host="127.0.0.1", port=0))
        await client.start_server()
        try:
            yield Service(client=client, settings=settings, evidence=Evidence(tmp / "evidence.log"))
        finally:
            await client.close()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def healthy(watcher: Service) -> str:
    """The module's instance; every test that uses it leaves it healthy."""
    return await provisioned(watcher)


async def provisioned(service: Service) -> str:
    """A new instance, provisioned and seen healthy by the watch."""
    name = f"w{uuid.uuid4().hex[:8]}"
    response = await service.post_order(
        {"id": f"p-{name}", "action": "provision", "instance": name}
    )
    assert response.status == 202, await response.text()
    assert (await service.finished(f"p-{name}"))["status"] == "succeeded"
    await health(service, name, "healthy")
    return name


async def metric(service: Service, pattern: str) -> float:
    """The sum of the samples whose line matches ``pattern`` (0 when there is none)."""
    text = await (await service.client.get("/metrics")).text()
    lines = [line for line in text.splitlines() if re.match(pattern, line)]
    return sum(float(line.rsplit(" ", 1)[1]) for line in lines)


async def follow_until_healed(service: Service, name: str) -> list[str]:
    """The statuses ``?follow=1`` streams, live, until a failure has healed."""
    path = f"/api/v1/instances/{name}/health"
    response = await service.client.get(path, params={"follow": "1"}, headers=BEARER)
    statuses: list[str] = []
    try:
        async for raw in response.content:
            line = raw.decode()
            if line.startswith("data:"):
                statuses.append(json.loads(line[5:])["status"])
            if "failed" in statuses and statuses[-1] == "healthy":
                break
    finally:
        response.close()
    return statuses


def namespace_of(name: str) -> str:
    return f"litemaas-{name}"


def scale(sandbox: Sandbox, name: str, replicas: int) -> None:
    path = f"/apis/apps/v1/namespaces/{namespace_of(name)}/deployments/litellm"
    sandbox.kube().patch(path, {"spec": {"replicas": replicas}})


@shared
async def test_a_crash_looping_pod_fails_the_instance_until_the_fault_is_cleared(
    watcher: Service, healthy: str, sandbox: Sandbox
) -> None:
    service, name = watcher, healthy
    followed = asyncio.create_task(follow_until_healed(service, name))
    sandbox.set_fault("deployment", namespace_of(name), "litellm", "crashloop")
    failed = await health(service, name, "failed", "crash-looping")
    assert re.search(
        r"Pod litellm-[a-z0-9-]+: container litellm is crash-looping", failed["reason"]
    )
    assert await metric(service, r'litemaas_instances_by_health\{status="failed"\}') == 1
    sandbox.clear_fault("deployment", namespace_of(name), "litellm")
    await health(service, name, "healthy")
    live = await asyncio.wait_for(followed, 60)
    transitions = await history(service, name)
    statuses = [t["status"] for t in transitions]
    assert live == statuses, transitions  # the stream said what the history keeps
    fault = statuses[statuses.index("failed") :]
    # failed until the fault was cleared (its reason may change meanwhile), then healthy
    assert fault[-1] == "healthy" and "healthy" not in fault[:-1], transitions
    shown = await service.get(f"/api/v1/instances/{name}/health?after=0&limit=1")
    assert len(shown["items"]) == 1


@shared
async def test_after_a_kube_apiserver_restart_the_watch_relists_and_still_finds_a_failure(
    watcher: Service, sandbox: Sandbox
) -> None:
    service = watcher
    name = await provisioned(service)  # its own: it is left scaled to 0
    restarts = await metric(service, r"litemaas_watch_restarts_total")
    gone = await metric(service, r'litemaas_watch_relists_total\{.*why="gone"')
    sandbox.restart_apiserver()
    scale(sandbox, name, 0)
    failed = await health(service, name, "failed", "scaled to 0")
    assert failed["reason"] == "Deployment litellm is scaled to 0 replicas"
    # the streams dropped with the server; resuming from their old resourceVersions, which the
    # new server's watch cache no longer holds, answered 410 and they listed again
    assert await metric(service, r"litemaas_watch_restarts_total") > restarts
    assert await metric(service, r'litemaas_watch_relists_total\{.*why="gone"') > gone
    assert await metric(service, r'litemaas_watch_relists_total\{.*why="resync"') == 0


@shared
async def test_objects_of_instances_the_ledger_does_not_know_are_ignored(
    watcher: Service, sandbox: Sandbox
) -> None:
    service = watcher
    name = await provisioned(service)  # its own: it is left without its Service
    kube = sandbox.kube()
    stranger = f"s{uuid.uuid4().hex[:8]}"
    kube.create("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                       "metadata": {"name": stranger}})  # fmt: skip
    hostile = "{{ lookup('env', 'HOME') }}\x1b[31m" + "x" * 300
    for instance in (stranger, name):  # another instance's, and one claiming ours elsewhere
        labels = {"app.kubernetes.io/managed-by": "litemaas-controller",
                  "litemaas.rhpds.io/instance": instance}  # fmt: skip
        service_body = {"apiVersion": "v1", "kind": "Service",
                        "metadata": {"name": "litellm", "labels": labels,
                                     "annotations": {"note": hostile}},
                        "spec": {"ports": [{"port": 4000}]}}  # fmt: skip
        kube.create(f"/api/v1/namespaces/{stranger}/services", service_body)
    # what the watch does see afterwards: our own Service deleted
    kube.delete(f"/api/v1/namespaces/{namespace_of(name)}/services/litellm")
    failed = await health(service, name, "failed")
    assert failed["reason"] == "Service litellm is missing"
    ledger = service.ledger()
    assert stranger not in {row[1] for row in ledger["health_history"]}
    response = await service.client.get(f"/api/v1/instances/{stranger}/health", headers=BEARER)
    assert response.status == 404


@shared
async def test_a_deleted_postgres_pod_is_progressing_then_healthy_and_never_failed(
    watcher: Service, healthy: str, sandbox: Sandbox
) -> None:
    service, name = watcher, healthy
    seen = len(await history(service, name))
    sandbox.kube().delete(f"/api/v1/namespaces/{namespace_of(name)}/pods/postgres-0")

    async def back() -> list[str] | None:
        statuses = [t["status"] for t in (await history(service, name))[seen:]]
        return statuses if statuses[-1:] == ["healthy"] else None

    statuses = await wait_for_async(back, what="healthy again")
    assert statuses == ["progressing", "healthy"], await history(service, name)


async def test_the_watch_rides_out_a_stop_of_its_postgresql_ledger(
    make_service: ServiceFactory,
    sandbox: Sandbox,
    postgres: ThrowawayPostgres,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """With the ledger on PostgreSQL, a server stop fails the watch's ledger writes and reads: it
    says so and looks again, and once the server is back it judges a new instance (it used to
    end)."""
    pg = PgLedger.create(postgres, tmp_path)
    service = await make_service("watched", kubeconfig=str(sandbox.kubeconfig), **WATCHING,
                                 ledger_url=pg.url, namespace="default",
                                 ledger_password_file=pg.password_file)  # fmt: skip
    name = await provisioned(service)
    postgres.shutdown()
    try:
        # a health change while the server is away: the watch records it at once (nothing else
        # would make it look at the ledger before its 30 s poll)
        scale(sandbox, name, 0)
        await wait_for_async(
            lambda: _logged(caplog, "the watch cannot read or write the ledger"),
            what="the watch to find the ledger unreachable",
        )
    finally:
        postgres.relaunch()
    await provisioned(service)  # judged healthy: the watch goes on
    assert "ended unexpectedly" not in caplog.text
    assert postgres.password not in caplog.text


async def _logged(caplog: pytest.LogCaptureFixture, text: str) -> bool:
    return text in caplog.text


def expired(kube: Kube, path: str, version: str) -> bool:
    """kube-apiserver answers a watch of ``path`` from ``version`` with 410 Gone."""
    for event in kube.watch(path, version, timeout=1):
        if event["type"] == "ERROR":
            return bool(event["object"].get("code") == 410)
    return False


# Last in the module: the module's service lived through this etcd restart once and its watch of
# Services saw no new Service afterwards (not understood yet); no test of it comes after this one.
async def test_a_watch_resumed_from_a_compacted_resource_version_relists_and_finds_a_failure(
    make_service: ServiceFactory, sandbox: Sandbox, tmp_path: Path
) -> None:
    api = urlsplit(sandbox.kube().server)
    partition = Partition((str(api.hostname), int(api.port or 443)))
    try:
        kubeconfig = partition.kubeconfig(sandbox.kubeconfig, tmp_path / "kubeconfig")
        service = await make_service("watched", kubeconfig=str(kubeconfig), **WATCHING)
        name = await provisioned(service)
        gone = r'litemaas_watch_relists_total\{kind="Service",why="gone"'
        relists = await metric(service, gone)
        kube, services = sandbox.kube(), f"/api/v1/namespaces/{namespace_of(name)}/services"
        partition.cut()  # from here the watch is behind: its streams drop, and cannot resume
        behind = str(kube.list(services)["metadata"]["resourceVersion"])
        kube.delete(f"{services}/litellm")
        # what kube-apiserver does every 5 minutes, then etcd restarted: kube-apiserver's watch of
        # Services resumes from a compacted revision and its watch cache starts again, after the
        # fault: it no longer serves a watch from where the service's stream was
        await asyncio.to_thread(sandbox.compact_etcd)
        await asyncio.to_thread(sandbox.restart_etcd)
        await asyncio.to_thread(wait_until, lambda: expired(kube, services, behind), timeout=60,
                                what="410 Gone for a watch from before the fault")  # fmt: skip
        partition.mend()
        failed = await health(service, name, "failed")
        assert failed["reason"] == "Service litellm is missing"
        assert await metric(service, gone) > relists
        assert await metric(service, r'litemaas_watch_relists_total\{.*why="resync"') == 0
    finally:
        partition.close()
