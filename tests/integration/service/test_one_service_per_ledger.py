"""Two services on one state directory, as a stopping pod and its replacement share a volume: the
second waits for the first's lock on the ledger (alive, not ready) and takes over when it exits;
no order is ever seen `failed` on the way."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from litemaas_controller.intake.auth import signed_headers
from waiting import Watch, wait_until

from .credentials import SECRET
from .serveproc import ServeProcess
from .servicekit import PROJECTS, Evidence

pytestmark = pytest.mark.integration

ORDER = {"id": "o-running", "action": "provision", "instance": "demo"}


@pytest.fixture
def services(run_env: Evidence) -> Iterator[list[ServeProcess]]:
    started: list[ServeProcess] = []
    yield started
    run_env.release()
    for svc in started:
        svc.stop()


def serve(tmp_path: Path, started: list[ServeProcess], name: str) -> ServeProcess:
    svc = ServeProcess(
        tmp_path / "state", PROJECTS / "hold", tmp_path / f"{name}.log", LITEMAAS_DRAIN_GRACE="0.5"
    )
    started.append(svc)
    return svc.start()


def submit(svc: ServeProcess, order: dict[str, str]) -> int:
    body = json.dumps(order).encode()
    headers = {**signed_headers(SECRET, body, time.time()), "Content-Type": "application/json"}
    return int(svc.request("POST", "/api/v1/orders", body, **headers)[0])


def ready(svc: ServeProcess) -> bool:
    try:
        return bool(svc.request("GET", "/readyz")[0] == 200)
    except OSError:  # between the probes' server and the service's (the socket stays bound)
        return False


def statuses(services: list[ServeProcess]) -> set[str]:
    """The order's status, from whichever service answers."""
    found = set()
    for svc in services:
        try:
            view = svc.order(ORDER["id"])
        except OSError:  # not listening (yet, or any more)
            continue
        if view is not None:
            found.add(view["status"])
    return found


async def test_a_second_service_waits_for_the_first_and_takes_over_when_it_stops(
    tmp_path: Path, run_env: Evidence, services: list[ServeProcess]
) -> None:
    first = serve(tmp_path, services, "first")
    assert first.proc is not None
    assert submit(first, ORDER) == 202
    await run_env.started(1)

    second = serve(tmp_path, services, "second")
    status, answer = second.request("GET", "/readyz")
    assert (status, answer["status"]) == (503, "waiting"), answer
    assert f"pid {first.proc.pid}" in answer["reason"]  # who it waits for
    assert second.request("GET", "/healthz")[0] == 200  # alive: the kubelet leaves it be
    assert (first.order("o-running") or {}).get("status") == "running"

    watch = Watch(lambda: statuses([first, second]))
    try:
        assert first.terminate() == 0
        wait_until(lambda: ready(second), timeout=120, what="the second service ready")
        await run_env.started(2)
        run_env.release()
        final = second.finished(ORDER["id"])
    finally:
        seen = watch.stop()
    assert final["status"] == "succeeded"
    assert "succeeded" in seen and "failed" not in seen, seen
    assert run_env.count("conflict") == 0  # never two runs of the instance at once
    log = (tmp_path / "second.log").read_text()
    assert log.count("waiting for the ledger") == 1
