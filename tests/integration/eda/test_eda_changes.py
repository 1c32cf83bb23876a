"""Model messages through the real ansible-rulebook and rhpds.litemaas.change_stream (real Redis).

The register playbook is a stand-in that records what it was given (no LiteLLM is needed to see
that the variables are the service's); everything else is this checkout's collection.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from integration.service.redisproc import PASSWORD, RedisServer
from litemaas_controller.intake.auth import signed_headers
from waiting import wait_until

from .rulebook import REPO, SECRET, Rulebook, collection_tree

pytestmark = pytest.mark.integration

STAND_INS = Path(__file__).parent / "collection" / "playbooks"
STREAM, GROUP = "litemaas:changes", "litemaas-eda"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    with RedisServer(tmp_path_factory.mktemp("redis")) as started:
        yield started


@pytest.fixture(scope="module")
def setup(server: RedisServer, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("eda-changes")
    collections = collection_tree(
        root / "collections",
        {name: STAND_INS / name for name in ("register_model.yml", "deploy_litemaas.yml")},
    )
    return {"root": root, "collections": collections, "evidence": root / "evidence"}


def _rulebook(setup: dict[str, Any], server: RedisServer) -> Rulebook:
    return Rulebook(
        setup["root"] / "rulebook",
        setup["collections"],
        str(REPO / "rulebooks" / "litemaas.yml"),
        REPO / "rulebooks" / "inventory.yml",
        {"LITEMAAS_TEST_EVIDENCE": str(setup["evidence"])},
        server.url,
    )


@pytest.fixture
def rulebook(setup: dict[str, Any], server: RedisServer) -> Iterator[Rulebook]:
    book = _rulebook(setup, server)
    try:
        yield book.start()
    finally:
        book.stop()


def _send(r: redis.Redis, message_id: str, name: str) -> tuple[str, dict[str, Any]]:
    body = {"name": name, "api_base": "http://vllm.models:8000/v1", "mode": "chat",
            "api_key_secret": {"name": "vllm-creds", "key": "token"}}  # fmt: skip
    fields = {"id": message_id, "type": "model.upsert", "instance": "demo",
              "body": json.dumps(body)}  # fmt: skip
    return str(r.xadd(STREAM, fields)), body  # type: ignore[arg-type]


def _evidence(setup: dict[str, Any]) -> list[dict[str, Any]]:
    path: Path = setup["evidence"]
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def _seen(setup: dict[str, Any], at: str, name: str) -> int:
    return sum(1 for e in _evidence(setup) if e["at"] == at and e["vars"]["model"]["name"] == name)


def _pending(r: redis.Redis) -> list[str]:
    return [str(p["message_id"]) for p in r.xpending_range(STREAM, GROUP, "-", "+", 100)]


def _delivery(r: redis.Redis, entry: str) -> dict[str, Any]:
    (pending,) = r.xpending_range(STREAM, GROUP, entry, entry, 1)
    return dict(pending)


def _renewals(r: redis.Redis, entry: str, wanted: int) -> Callable[[], bool]:
    """A probe: True once the entry's idle time has dropped ``wanted`` times (XCLAIM JUSTID)."""
    seen = {"last": -1, "drops": 0}

    def probe() -> bool:
        idle = int(_delivery(r, entry)["time_since_delivered"])
        seen["drops"] += idle < seen["last"]
        seen["last"] = idle
        return seen["drops"] >= wanted

    return probe


def test_a_model_message_runs_register_with_the_services_variables_then_is_acked(
    rulebook: Rulebook, server: RedisServer, setup: dict[str, Any]
) -> None:
    r = server.client()
    entry, body = _send(r, "m-vars-1", "granite-3-8b")
    wait_until(lambda: _seen(setup, "end", "granite-3-8b"), 90, "the register run")
    (started,) = [e for e in _evidence(setup) if e["vars"]["model"]["name"] == "granite-3-8b"][:1]
    # the service's own extra vars for this message (dispatch.changes), namespace by convention
    assert started["vars"] == {
        "namespace": "litemaas-demo",
        "model": body,
        "state": "present",
        "upstream_allow": [],
    }
    wait_until(lambda: entry not in _pending(r), 30, "the entry acknowledged by the playbook")
    assert r.xlen(f"{STREAM}:dead") == 0


def test_a_message_whose_run_is_killed_with_ansible_rulebook_runs_again_after_restart(
    setup: dict[str, Any], server: RedisServer
) -> None:
    r = server.client()
    book = _rulebook(setup, server).start()
    try:
        held, _ = _send(r, "m-hold-1", "hold-1")
        wait_until(lambda: _seen(setup, "start", "hold-1"), 90, "the held run's start")
        _send(r, "m-next-1", "next-1")  # waits behind it (one action at a time)
        # an order accepted before the crash: its id is kept in the state file
        order = {"id": "o-before-crash", "action": "provision", "instance": "crash"}
        raw = json.dumps(order).encode()
        headers = signed_headers(SECRET, raw, time.time())
        assert book.post_raw(raw, headers)[0] == 202
        # a running entry is renewed (its idle time reset) past the claim idle time (1 s), so
        # nothing claims it again while its run goes on
        wait_until(_renewals(r, held, 4), 30, "the running entry renewed four times")
        assert _delivery(r, held)["times_delivered"] == 1
        book.kill()
    finally:
        book.stop()
    assert held in _pending(r)  # not acknowledged: its run never ended
    (setup["evidence"].parent / (setup["evidence"].name + ".release")).touch()
    again = _rulebook(setup, server).start()
    try:
        duplicate = {"id": "o-before-crash", "status": "duplicate"}
        assert again.post_raw(raw, headers) == (200, duplicate)  # kept in the state file
        wait_until(lambda: _seen(setup, "end", "hold-1"), 90, "the held message run to its end")
        wait_until(lambda: _seen(setup, "end", "next-1"), 90, "the queued message run")
        wait_until(lambda: not _pending(r), 30, "every entry acknowledged")
    finally:
        again.stop()
    assert _seen(setup, "start", "hold-1") == 2  # delivered again, once
    assert _seen(setup, "end", "next-1") == 1  # none lost, none doubled
    assert r.xlen(f"{STREAM}:dead") == 0
    assert PASSWORD not in again.output() + book.output()  # the Redis URL's password
