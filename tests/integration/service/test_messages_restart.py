"""Messages and a killed service: its pending entries are claimed and completed by the next start.

`serve` runs as a subprocess (SIGKILL mid-run, then a new process under another consumer name,
as a replacement pod would be); Redis is our own, with a password that must never be logged.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from litemaas_controller.intake.auth import signed_headers
from waiting import wait_for

from .credentials import SECRET, TOKEN
from .msgkit import UPSERT, dead_letters, pending, send
from .procscan import alive
from .redisproc import PASSWORD, RedisServer
from .serveproc import ServeProcess
from .servicekit import PROJECTS, Evidence, ledger_dump

# a hung test fails on its own instead of holding the suite until the global timeout
pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

#: seconds any wait may take: several playbook runs on a loaded, shared machine
LONG = 300


@pytest.fixture
def services(run_env: Evidence) -> Iterator[list[ServeProcess]]:
    started: list[ServeProcess] = []
    yield started
    run_env.release()
    for svc in started:
        svc.stop()


def serve(
    tmp_path: Path, started: list[ServeProcess], server: RedisServer, consumer: str
) -> ServeProcess:
    env = {
        "LITEMAAS_REDIS_URL": server.url,
        "LITEMAAS_REDIS_CONSUMER": consumer,
        "LITEMAAS_REDIS_CLAIM_IDLE": "1",
    }
    svc = ServeProcess(tmp_path / "state", PROJECTS / "messages", tmp_path / "serve.log", **env)
    started.append(svc)
    return svc.start()


async def test_pending_messages_of_a_killed_service_are_claimed_and_completed_by_the_next_start(
    tmp_path: Path, run_env: Evidence, services: list[ServeProcess], redis_server: RedisServer
) -> None:
    r = redis_server.client()
    first = serve(tmp_path, services, redis_server, "pod-a")
    body = json.dumps({"id": "p-demo", "action": "provision", "instance": "demo"}).encode()
    headers = {**signed_headers(SECRET, body, time.time()), "Content-Type": "application/json"}
    assert first.request("POST", "/api/v1/orders", body, **headers)[0] == 202
    assert first.finished("p-demo")["status"] == "succeeded"
    send(r, "k-1", "model.upsert", "demo", {**UPSERT, "name": "hold-k1"})
    send(r, "k-2", "key.rotate", "demo", {"alias": "team-a"})
    await wait_for(timeout=LONG, probe=lambda: run_env.count("start") == 2, what="k-1 running")
    [_, orphan] = run_env.pids("start")

    first.kill9()
    assert pending(r) == 2  # k-1 running, k-2 accepted and queued behind it: neither acked

    second = serve(tmp_path, services, redis_server, "pod-b")
    assert not alive(orphan)  # recovery ended the dead service's run before anything else
    await wait_for(timeout=LONG, probe=lambda: run_env.count("start") == 3, what="k-1 run again")
    run_env.release()
    await wait_for(
        timeout=LONG, probe=lambda: pending(r) == 0, what="both entries claimed, run and acked"
    )
    group = r.xinfo_consumers("litemaas:changes", "litemaas-controller")
    consumers = {c["name"]: c["pending"] for c in group}  # type: ignore[union-attr]
    assert consumers.get("pod-a", 0) == 0
    labels = [(f[1], f[4]) for f in run_env.lines() if f[4] != "deploy"]
    assert labels == [
        ("start", "present:hold-k1"),  # the killed run: no end
        ("start", "present:hold-k1"), ("end", "present:hold-k1"),
        ("start", "key.rotate:team-a"), ("end", "key.rotate:team-a"),
    ]  # fmt: skip
    _, order = second.request("GET", "/api/v1/orders/msg:k-1")
    assert order["status"] == "succeeded"
    assert [run["status"] for run in order["runs"]] == ["failed", "succeeded"]
    assert dead_letters(r) == []
    assert second.terminate() == 0  # SIGTERM drains the consumer too

    ledger = json.dumps(ledger_dump(tmp_path / "state" / "ledger.sqlite3"), default=str)
    log = (tmp_path / "serve.log").read_text()
    for secret in (PASSWORD, SECRET, TOKEN):
        assert secret not in log and secret not in ledger
