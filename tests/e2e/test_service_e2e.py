"""The controller end to end: signed orders against the sandbox cluster with the real playbooks."""

from __future__ import annotations

import json
import os
import sqlite3
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from integration.service.procscan import run_pids
from integration.service.serveproc import ServeProcess
from kubeobjects import secret_data
from litemaas_controller.intake.auth import signed_headers
from sandbox import Sandbox
from waiting import wait_for_async

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
SECRET = "whsec-canary-7f3a9c1e5b2d4f60"
COLLECTIONS = os.environ.get("ANSIBLE_COLLECTIONS_PATH") or str(REPO / ".venv" / "collections")


@pytest.fixture
def controller(sandbox_aws: Sandbox, tmp_path: Path) -> Iterator[list[ServeProcess]]:
    started: list[ServeProcess] = []
    yield started
    for svc in started:
        svc.stop()


def serve(sandbox: Sandbox, tmp_path: Path, started: list[ServeProcess]) -> ServeProcess:
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    svc = ServeProcess(tmp_path / "state", REPO / "playbooks", tmp_path / "serve.log",
                       **sandbox.env(), ANSIBLE_COLLECTIONS_PATH=COLLECTIONS, PATH=path,
                       LITEMAAS_DRAIN_GRACE="60")  # fmt: skip
    started.append(svc)
    return svc.start()


def submit(svc: ServeProcess, order: dict) -> tuple[int, dict]:
    body = json.dumps(order).encode()
    headers = {**signed_headers(SECRET, body, time.time()), "Content-Type": "application/json"}
    return svc.request("POST", "/api/v1/orders", body, **headers)


def ledger_text(tmp_path: Path) -> str:
    db = sqlite3.connect(tmp_path / "state" / "ledger.sqlite3")
    try:
        return "\n".join(db.iterdump())
    finally:
        db.close()


async def test_provision_duplicate_credentials_and_destroy(
    sandbox_aws: Sandbox, tmp_path: Path, controller: list[ServeProcess]
) -> None:
    svc = serve(sandbox_aws, tmp_path, controller)
    instance = f"e2e-{uuid.uuid4().hex[:6]}"
    order = {"id": f"{instance}-p", "action": "provision", "instance": instance}
    status, record = submit(svc, order)
    assert status == 202, record
    final = svc.finished(order["id"])
    assert final["status"] == "succeeded", final
    results = final["results"]
    assert results["namespace"] == f"litemaas-{instance}" and results["instance"] == instance
    assert results["credentials_secret"]
    assert submit(svc, order)[0] == 200  # duplicate: nothing runs again
    _, runs = svc.request("GET", f"/api/v1/runs?order={order['id']}")
    assert len(runs["items"]) == 1

    status, creds = svc.request("GET", f"/api/v1/instances/{instance}/credentials")
    assert status == 200, creds
    stored = secret_data(sandbox_aws.kube(), results["namespace"], results["credentials_secret"])
    assert creds["password"] == stored["UI_PASSWORD"] and creds["username"] == stored["UI_USERNAME"]
    # the real secrets exist only in the cluster and in that one answer
    _, order_view = svc.request("GET", f"/api/v1/orders/{order['id']}")
    _, events = svc.request("GET", f"/api/v1/orders/{order['id']}/events")
    ledger = ledger_text(tmp_path)
    log = (tmp_path / "serve.log").read_text()
    for value in (stored["UI_PASSWORD"], stored["LITELLM_MASTER_KEY"], SECRET):
        assert value not in ledger and value not in log
        assert value not in json.dumps(order_view) and value not in json.dumps(events)

    destroy = {"id": f"{instance}-d", "action": "destroy", "instance": instance}
    assert submit(svc, destroy)[0] == 202
    assert svc.finished(destroy["id"])["status"] == "succeeded"
    _, inst = svc.request("GET", f"/api/v1/instances/{instance}")
    assert inst["status"] == "destroyed"
    assert svc.terminate() == 0


async def test_kill_9_during_a_real_deploy_then_restart(
    sandbox_aws: Sandbox, tmp_path: Path, controller: list[ServeProcess]
) -> None:
    svc = serve(sandbox_aws, tmp_path, controller)
    instance = f"e2e-{uuid.uuid4().hex[:6]}"
    order = {"id": f"{instance}-p", "action": "provision", "instance": instance}
    assert submit(svc, order)[0] == 202

    async def running_run() -> str | None:
        _, view = svc.request("GET", f"/api/v1/orders/{order['id']}")
        running = [r for r in view["runs"] if r["status"] == "running"]
        if not running:
            return None
        _, events = svc.request("GET", f"/api/v1/runs/{running[0]['id']}/events")
        started = [e for e in events["items"] if e["event"] == "playbook_on_task_start"]
        return str(running[0]["id"]) if len(started) >= 3 else None

    orphan = await wait_for_async(running_run, what="the deploy's third task")
    svc.kill9()
    again = serve(sandbox_aws, tmp_path, controller)
    assert run_pids(orphan) == []  # ended before anything ran for the instance again
    final = again.finished(order["id"])
    assert final["status"] == "succeeded", final
    _, view = again.request("GET", f"/api/v1/orders/{order['id']}")
    assert [r["status"] for r in view["runs"]] == ["failed", "succeeded"]
    assert again.terminate() == 0
