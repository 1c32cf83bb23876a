"""Model-change messages on a real Redis: validated, deduplicated, run like orders, acked after.

The service runs in-process on a real port with real ansible-runner; fixture playbooks stand in
for register_model.yml and rotate_keys.yml and record what they received.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
import redis

from waiting import wait_for, wait_for_async

from .credentials import BEARER
from .msgkit import (
    UPSERT,
    dead_letters,
    order_of,
    pending,
    provision,
    received,
    send,
    start,
)
from .redisproc import PASSWORD, RedisServer
from .servicekit import Service, ServiceFactory

# a hung test fails on its own instead of holding the suite until the global timeout
pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

#: seconds any wait may take: several playbook runs on a loaded, shared machine
LONG = 300

CANARY = "sk-canary-upstream-9e4c2a7b1d"


async def test_a_valid_message_runs_once_and_is_acked_after_its_run_ends(
    redis_server: RedisServer, r: redis.Redis, make_service: ServiceFactory
) -> None:
    svc = await start(make_service, redis_server)
    await provision(svc, "demo")
    body = {**UPSERT, "name": "hold-llama"}
    entry, _ = send(r, "m-1", "model.upsert", "demo", body)
    await svc.evidence.started(1, "litemaas-demo")
    await wait_for(
        timeout=LONG, probe=lambda: svc.evidence.count("start") == 2, what="the message's run"
    )
    assert pending(r) == 1  # running: delivered, not acknowledged
    svc.evidence.release()
    await wait_for(timeout=LONG, probe=lambda: pending(r) == 0, what="the acknowledgement")

    order = await order_of(svc, "m-1")
    assert order["status"] == "succeeded" and order["action"] == "model.upsert"
    assert order["results"] == {"name": "hold-llama", "action": "recorded"}  # its set_stats
    assert [run["status"] for run in order["runs"]] == ["succeeded"]
    assert order["source"] == f"redis:litemaas:changes/{entry}"
    # acknowledged after the run ended, never before
    trail = (await svc.get("/api/v1/audit?subject=msg:m-1"))["items"]
    acked = next(a for a in trail if a["action"] == "message.acked")
    accepted = next(a for a in trail if a["action"] == "order.accepted")
    assert (accepted["actor"], accepted["source"]) == ("redis:litemaas-controller", order["source"])
    assert acked["at"] >= order["runs"][0]["finished_at"]
    [got] = [v for v in received(svc.evidence.path) if v["playbook"] == "register_model"]
    assert got == {"playbook": "register_model", "namespace": "litemaas-demo",
                   "state": "present", "model": body}  # fmt: skip

    # the same id and content again: acked, nothing runs again
    send(r, "m-1", "model.upsert", "demo", {k: body[k] for k in reversed(body)})
    await wait_for(
        timeout=LONG, probe=lambda: pending(r) == 0 and r.xlen("litemaas:changes") == 2, what="dup"
    )
    await wait_for_async(
        timeout=LONG, probe=_metric(svc, "model.upsert", "duplicate"), what="the duplicate counted"
    )
    # the same id with other content: a conflict, dead-lettered; the ledger keeps the first
    send(r, "m-1", "model.upsert", "demo", {**body, "mode": "completion"})
    await wait_for(
        timeout=LONG, probe=lambda: len(dead_letters(r)) == 1, what="the conflict's dead letter"
    )
    [letter] = dead_letters(r)
    assert letter["kind"] == "conflict" and letter["id"] == "m-1"
    assert svc.evidence.count("start") == 2 and pending(r) == 0
    assert len((await order_of(svc, "m-1"))["runs"]) == 1
    assert await _metric(svc, "model.upsert", "succeeded")()
    assert await _metric(svc, "model.upsert", "dead_lettered")()


def _metric(svc: Service, kind: str, outcome: str) -> Any:
    """A probe: has ``litemaas_messages_total`` counted a message of ``kind`` with ``outcome``?"""
    wanted = (f'type="{kind}"', f'outcome="{outcome}"')

    async def probe() -> bool:
        text = await (await svc.client.get("/metrics")).text()
        lines = [x for x in text.splitlines() if x.startswith("litemaas_messages_total{")]
        return any(all(w in x for w in wanted) and not x.endswith(" 0.0") for x in lines)

    return probe


MALFORMED: list[tuple[str, dict[str, str], str]] = [
    ("bad JSON", {"id": "bad-1", "type": "model.delete", "instance": "demo",
                  "body": '{"name": '}, "malformed"),
    ("unknown type", {"id": "bad-2", "type": "model.explode", "instance": "demo",
                      "body": "{}"}, "invalid"),
    ("missing field", {"id": "bad-3", "type": "model.upsert", "instance": "demo",
                       "body": json.dumps({k: v for k, v in UPSERT.items() if k != "api_base"})},
     "invalid"),
    ("raw secret", {"id": "bad-4", "type": "model.upsert", "instance": "demo",
                    "body": json.dumps({**UPSERT, "api_key": CANARY})}, "invalid"),
    ("secret where a name goes", {"id": "bad-5", "type": "model.upsert", "instance": "demo",
                    "body": json.dumps({**UPSERT, "api_key_secret": CANARY})}, "invalid"),
    ("no body", {"id": "bad-6", "type": "key.rotate", "instance": "demo"}, "invalid"),
    ("unknown instance", {"id": "bad-7", "type": "key.rotate", "instance": "nowhere",
                          "body": '{"alias": "team-a"}'}, "conflict"),
]  # fmt: skip


async def test_malformed_messages_are_dead_lettered_and_nothing_else_happens(
    redis_server: RedisServer,
    r: redis.Redis,
    make_service: ServiceFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    svc = await start(make_service, redis_server)
    await provision(svc, "demo")
    before = svc.ledger()
    entries = [str(r.xadd("litemaas:changes", fields)) for _, fields, _ in MALFORMED]  # type: ignore[arg-type]
    await wait_for(
        timeout=LONG, probe=lambda: len(dead_letters(r)) == len(MALFORMED), what="every dead letter"
    )
    await wait_for(timeout=LONG, probe=lambda: pending(r) == 0, what="every entry acked")

    letters = dead_letters(r)
    assert [d["entry_id"] for d in letters] == entries
    for (case, fields, kind), letter in zip(MALFORMED, letters, strict=True):
        assert letter["kind"] == kind, (case, letter)
        assert letter["reason"] and letter["deliveries"] == "1", case
        assert letter.get("id") == fields["id"], case
    assert "api_key" in letters[3]["reason"] and "body" in letters[3]["withheld"]
    assert "api_base" in letters[2]["reason"] and "body" in letters[2]["withheld"]
    after = svc.ledger()
    marks = after.pop("dead_letters")  # each entry remembered as given up, nothing else
    assert after == {t: rows for t, rows in before.items() if t != "dead_letters"}
    assert sorted(m[0] for m in marks) == sorted(f"litemaas:changes/{e}" for e in entries)
    assert svc.evidence.count("start") == 1  # the provision only

    seen = json.dumps(letters) + caplog.text + json.dumps(svc.ledger(), default=str)
    assert CANARY not in seen and PASSWORD not in seen


async def test_messages_naming_the_instances_secrets_or_a_foreign_upstream_are_dead_lettered(
    redis_server: RedisServer, r: redis.Redis, make_service: ServiceFactory
) -> None:
    # docs/untrusted-input.md "Secret references": refused before anything is recorded or run, so
    # no run could present the master key anywhere
    svc = await start(make_service, redis_server, upstream_allow=("*.models.svc",))
    before = svc.ledger()
    stolen = {"name": "litellm-secret", "key": "LITELLM_MASTER_KEY"}
    key = {"alias": "team-a", "user_id": "u", "models": ["m"], "secret": {"name": "litellm-secret"}}
    cases = [
        ("model.upsert", {**UPSERT, "api_key_secret": stolen}, "body/api_key_secret/name"),
        ("key.create", key, "body/secret/name"),
        ("model.upsert", {**UPSERT, "api_base": "http://collector.example/v1"}, "body/api_base"),
    ]
    for n, (kind, body, _) in enumerate(cases):
        send(r, f"ref-{n}", kind, "demo", body)
    await wait_for(timeout=LONG, probe=lambda: len(dead_letters(r)) == len(cases), what="3 dead")
    for (_, _, field), letter in zip(cases, dead_letters(r), strict=True):
        assert (letter["kind"], letter["deliveries"]) == ("invalid", "1"), letter
        assert letter["reason"].startswith(field + ":"), letter
        assert "collector" not in letter["reason"]
    after = svc.ledger()
    assert len(after.pop("dead_letters")) == len(cases)  # each remembered as given up
    assert after == {t: rows for t, rows in before.items() if t != "dead_letters"}
    assert svc.evidence.count("start") == 0  # nothing recorded, nothing ran
    assert pending(r) == 0


async def test_a_failing_message_is_retried_then_dead_lettered_after_5_deliveries(
    redis_server: RedisServer, r: redis.Redis, make_service: ServiceFactory
) -> None:
    svc = await start(make_service, redis_server, redis_claim_idle=1.0)
    await provision(svc, "demo")
    entry, _ = send(r, "m-fail", "model.upsert", "demo", {**UPSERT, "name": "fail-llama"})
    await wait_for(timeout=LONG, probe=lambda: len(dead_letters(r)) == 1, what="the dead letter")
    [letter] = dead_letters(r)
    assert (letter["kind"], letter["deliveries"], letter["entry_id"]) == ("failed", "5", entry)
    assert letter["reason"].startswith("playbook failed (rc 2): Record what the controller sent:")
    assert json.loads(letter["body"])["name"] == "fail-llama"
    assert pending(r) == 0
    order = await order_of(svc, "m-fail")
    assert order["status"] == "failed"
    assert [run["status"] for run in order["runs"]] == ["failed"] * 5
    assert svc.evidence.count("failed") == 5
    items = (await svc.get("/api/v1/audit?subject=msg:m-fail"))["items"]
    trail = [a["action"] for a in items]
    assert trail.count("order.retried") == 4 and trail[-1] == "message.dead_lettered"


async def test_messages_of_one_instance_run_in_order_one_at_a_time_with_its_orders(
    redis_server: RedisServer, r: redis.Redis, make_service: ServiceFactory
) -> None:
    svc = await start(make_service, redis_server)
    await provision(svc, "a")
    await provision(svc, "b")
    send(r, "a-1", "model.upsert", "a", {**UPSERT, "name": "hold-a1"})
    key = {"alias": "team-b", "user_id": "u-b", "models": ["m"], "secret": {"name": "team-b-llm"}}
    send(r, "b-1", "key.create", "b", key)
    await wait_for(
        timeout=LONG,
        probe=lambda: svc.evidence.count("start", "litemaas-a") == 2,
        what="a-1 running",
    )
    update = {"id": "u-a", "action": "update", "instance": "a"}
    await wait_for_async(timeout=LONG, probe=_accepted(svc, "msg:b-1"), what="b-1 in the ledger")
    assert (await svc.post_order(update)).status == 202
    send(r, "a-2", "model.delete", "a", {"name": "llama"})
    send(r, "a-3", "key.rotate", "a", {"alias": "team-a"})
    send(r, "a-4", "master_key.rotate", "a", {})
    # b is not held up by a
    await wait_for(
        timeout=LONG, probe=lambda: svc.evidence.count("end", "litemaas-b") == 2, what="b-1 done"
    )
    svc.evidence.release()
    await wait_for(
        timeout=LONG,
        probe=lambda: pending(r) == 0 and svc.evidence.count("end", "litemaas-a") == 6,
        what="every message of a",
    )
    steps = [(f[1], f[4]) for f in svc.evidence.lines() if f[3] == "litemaas-a"]
    assert steps == [
        ("start", "deploy"), ("end", "deploy"),
        ("start", "present:hold-a1"), ("end", "present:hold-a1"),
        ("start", "deploy"), ("end", "deploy"),  # the update order, sent between a-1 and a-2
        ("start", "absent:llama"), ("end", "absent:llama"),
        ("start", "key.rotate:team-a"), ("end", "key.rotate:team-a"),
        ("start", "master_key.rotate:-"), ("end", "master_key.rotate:-"),
    ]  # fmt: skip
    assert svc.evidence.count("conflict") == 0
    instance = await svc.get("/api/v1/instances/a")
    assert instance["status"] == "ready"  # model changes leave the instance as it was


def _accepted(svc: Service, order_id: str) -> Any:
    async def probe() -> bool:
        response = await svc.client.get(f"/api/v1/orders/{order_id}", headers=BEARER)
        return response.status == 200

    return probe


async def test_redis_restarted_mid_stream_loses_no_message_and_the_group_comes_back(
    redis_server: RedisServer, r: redis.Redis, make_service: ServiceFactory
) -> None:
    svc = await start(make_service, redis_server)
    await provision(svc, "demo")
    send(r, "r-1", "model.upsert", "demo", {**UPSERT, "name": "hold-r1"})
    send(r, "r-2", "key.delete", "demo", {"alias": "team-a"})
    await wait_for(timeout=LONG, probe=lambda: svc.evidence.count("start") == 2, what="r-1 running")
    redis_server.kill()
    await wait_for_async(
        timeout=LONG, probe=_redis_status(svc, "down"), what="readiness reporting Redis down"
    )
    redis_server.start()  # same port, same data directory
    await wait_for_async(
        timeout=LONG, probe=_redis_status(svc, "connected"), what="the consumer back"
    )
    send(r, "r-3", "key.rotate", "demo", {"alias": "team-a"})
    svc.evidence.release()
    await wait_for(
        timeout=LONG,
        probe=lambda: pending(r) == 0 and svc.evidence.count("end") == 4,
        what="r-1..r-3",
    )

    # Redis lost the group (a restart without its data): it is created again, nothing is lost
    r.xgroup_destroy("litemaas:changes", "litemaas-controller")
    send(r, "r-4", "admin_password.rotate", "demo", {})
    await wait_for(
        timeout=LONG,
        probe=lambda: svc.evidence.count("end") == 5,
        what="r-4 after the group's loss",
    )
    await wait_for(timeout=LONG, probe=lambda: pending(r) == 0, what="every entry acked again")
    labels = [f[4] for f in svc.evidence.lines() if f[1] == "start"]
    assert labels == ["deploy", "present:hold-r1", "key.delete:team-a", "key.rotate:team-a",
                      "admin_password.rotate:-"]  # fmt: skip
    assert dead_letters(r) == []
    for message_id in ("r-1", "r-2", "r-3", "r-4"):
        assert len((await order_of(svc, message_id))["runs"]) == 1


def _redis_status(svc: Service, status: str) -> Any:
    async def probe() -> bool:
        body = await (await svc.client.get("/readyz")).json()
        return bool(body["redis"]["status"] == status)

    return probe


async def test_latency_from_xadd_to_the_end_of_a_trivial_run(
    redis_server: RedisServer, r: redis.Redis, make_service: ServiceFactory
) -> None:
    """Not a timed assertion: prints XADD -> ledger -> run start -> run end, for the notes."""
    svc = await start(make_service, redis_server)
    await provision(svc, "demo")
    rows = []
    for i in range(5):
        _, sent = send(r, f"l-{i}", "key.rotate", "demo", {"alias": f"k{i}"})
        done = i + 2
        await wait_for(
            timeout=LONG, probe=lambda n=done: pending(r) == 0 and svc.evidence.count("end") == n
        )  # type: ignore[misc]
        order = await order_of(svc, f"l-{i}")
        run = order["runs"][0]
        rows.append((order["received_at"] - sent, run["started_at"] - sent,
                     run["finished_at"] - sent))  # fmt: skip
    ledger, started, ended = (sorted(col)[len(col) // 2] for col in zip(*rows, strict=True))
    low, high = min(x[2] for x in rows), max(x[2] for x in rows)
    print(
        f"message latency, median of 5 (s): XADD->in ledger {ledger:.3f}, ->run started "
        f"{started:.3f}, ->run ended {ended:.3f}; XADD->run ended min {low:.2f} max {high:.2f}"
    )
    assert all(0 < x[0] <= x[1] <= x[2] for x in rows)
