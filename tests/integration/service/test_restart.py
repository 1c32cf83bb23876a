"""The service as a process: kill -9 in the middle of a run, restart; SIGTERM drains, exit 0."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from litemaas_controller.intake.auth import signed_headers

from .credentials import SECRET, TOKEN
from .procscan import alive, run_pids
from .serveproc import ServeProcess
from .servicekit import PROJECTS, Evidence

pytestmark = pytest.mark.integration

ORDER = {"id": "o-restart", "action": "provision", "instance": "demo"}


@pytest.fixture
def services(tmp_path: Path, run_env: Evidence) -> Iterator[list[ServeProcess]]:
    started: list[ServeProcess] = []
    yield started
    run_env.release()
    for svc in started:
        svc.stop()


def serve(tmp_path: Path, started: list[ServeProcess], **env: str) -> ServeProcess:
    svc = ServeProcess(tmp_path / "state", PROJECTS / "hold", tmp_path / "serve.log", **env)
    started.append(svc)
    return svc.start()


def submit(svc: ServeProcess, order: dict | None = None) -> int:
    body = json.dumps(order or ORDER).encode()
    headers = {**signed_headers(SECRET, body, time.time()), "Content-Type": "application/json"}
    status, _ = svc.request("POST", "/api/v1/orders", body, **headers)
    return status


def current_run(svc: ServeProcess) -> dict:
    _, order = svc.request("GET", f"/api/v1/orders/{ORDER['id']}")
    return next(r for r in order["runs"] if r["status"] in ("queued", "running"))


async def test_kill_9_mid_run_then_restart_runs_the_order_once_more_never_twice_at_once(
    tmp_path: Path, run_env: Evidence, services: list[ServeProcess]
) -> None:
    first = serve(tmp_path, services)
    assert submit(first) == 202
    await run_env.started(1)
    queued = {"id": "o-queued", "action": "update", "instance": "demo"}
    assert submit(first, queued) == 202  # waits behind the running order
    orphan_run = current_run(first)["id"]
    [orphan_shell] = run_env.pids("start")

    first.kill9()
    # the run's processes outlive the service: they have their own session
    assert alive(orphan_shell) and run_pids(orphan_run)

    second = serve(tmp_path, services)
    # recovery ended the orphan before anything ran for the instance again
    assert not alive(orphan_shell) and run_pids(orphan_run) == []
    await run_env.started(2)
    assert run_env.count("conflict") == 0
    run_env.release()
    final = second.finished(ORDER["id"])
    assert final["status"] == "succeeded"
    assert second.finished("o-queued")["status"] == "succeeded"  # nothing lost

    _, order = second.request("GET", f"/api/v1/orders/{ORDER['id']}")
    statuses = [r["status"] for r in order["runs"]]
    assert statuses == ["failed", "succeeded"]
    assert "interrupted" in order["runs"][0]["reason"]
    # the interrupted run never finished, the rerun did, then the queued order ran; never two at
    # once: the instance's lock was never found taken
    assert [f[1] for f in run_env.lines()] == ["start", "start", "end", "start", "end"]
    assert run_env.count("conflict") == 0
    assert second.terminate() == 0
    log = (tmp_path / "serve.log").read_text()
    assert SECRET not in log and TOKEN not in log


async def test_sigterm_drains_cancels_the_late_run_and_the_next_start_runs_it(
    tmp_path: Path, run_env: Evidence, services: list[ServeProcess]
) -> None:
    first = serve(tmp_path, services, LITEMAAS_DRAIN_GRACE="0.5")
    assert submit(first) == 202
    await run_env.started(1)
    run = current_run(first)
    assert first.terminate() == 0
    assert run_pids(run["id"]) == []
    assert not alive(run_env.pids("start")[0])

    second = serve(tmp_path, services)
    _, order = second.request("GET", f"/api/v1/orders/{ORDER['id']}")
    assert order["runs"][0]["status"] == "cancelled"  # oldest first: the drained run
    assert "shut down" in order["runs"][0]["reason"]
    await run_env.started(2)
    run_env.release()
    assert second.finished(ORDER["id"])["status"] == "succeeded"
    assert second.terminate() == 0


async def test_sigterm_lets_a_run_finish_within_the_grace(
    tmp_path: Path, run_env: Evidence, services: list[ServeProcess]
) -> None:
    svc = serve(tmp_path, services, LITEMAAS_DRAIN_GRACE="120")
    assert submit(svc) == 202
    await run_env.started(1)
    assert svc.proc is not None
    svc.proc.send_signal(15)
    run_env.release()  # the run ends by itself while the service drains
    assert svc.proc.wait(120) == 0
    again = serve(tmp_path, services)
    _, order = again.request("GET", f"/api/v1/orders/{ORDER['id']}")
    assert order["status"] == "succeeded" and len(order["runs"]) == 1
