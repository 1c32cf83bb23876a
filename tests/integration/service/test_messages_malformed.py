"""One bad entry never stops the message intake, and a failure says whether a retry can cure it.

Real Redis, the service in-process with real ansible-runner, the fixture playbooks of
projects/messages (perm-* models run the real litellm_model module into a permanent failure).
"""

from __future__ import annotations

import json
import sqlite3

import pytest
import redis

from waiting import wait_for, wait_for_async

from .msgkit import STREAM, UPSERT, dead_letters, order_of, pending, provision, send, start
from .redisproc import PASSWORD, RedisServer
from .servicekit import ServiceFactory

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

#: seconds any wait may take: playbook runs on a loaded, shared machine
LONG = 240

NAME = '{"name": %s}'
#: (case, body field as bytes): each stopped the intake for good, or ran, before
BODIES: list[tuple[str, bytes]] = [
    ("a 5,000-digit integer", (NAME % ("9" * 5000)).encode()),
    ("2,000 nested arrays", (NAME % ("[" * 2000 + "]" * 2000)).encode()),
    ("NaN", (NAME % "NaN").encode()),
    ("Infinity", (NAME % "Infinity").encode()),
    ("a duplicate key", b'{"name": "a", "name": "b"}'),
    ("a lone surrogate", (NAME % '"\\udc00"').encode()),
    ("a byte-order mark", b"\xef\xbb\xbf" + (NAME % '"a"').encode()),
    ("bytes not in UTF-8", (NAME % '"caf\xe9"').encode("latin-1")),
]


def xadd_raw(raw: redis.Redis, message_id: str, body: bytes) -> str:
    """XADD a model.delete whose body field is ``body``, byte for byte."""
    fields = {"id": message_id, "type": "model.delete", "instance": "demo", "body": body}
    return str(raw.xadd(STREAM, fields), "ascii")  # type: ignore[arg-type]


async def test_bad_entries_and_a_permanent_failure_are_dead_lettered_once_and_intake_goes_on(
    redis_server: RedisServer, r: redis.Redis, make_service: ServiceFactory
) -> None:
    svc = await start(make_service, redis_server, redis_max_deliveries=5)
    await provision(svc, "demo")
    raw = redis.Redis(port=redis_server.port, password=PASSWORD)  # bytes in, as a producer's
    entries = [xadd_raw(raw, f"bad-{i}", body) for i, (_, body) in enumerate(BODIES)]
    # valid, but its run fails for a reason no retry can fix: dead-lettered after one delivery
    perm, _ = send(r, "m-perm", "model.upsert", "demo", {**UPSERT, "name": "perm-llama"})
    send(r, "good-1", "key.rotate", "demo", {"alias": "after-the-bad-ones"})
    await wait_for(
        timeout=LONG,
        probe=lambda: svc.evidence.count("end") == 3 and pending(r) == 0,
        what="the valid messages' runs and every entry settled",
    )
    *letters, permanent = dead_letters(r)
    assert [d["entry_id"] for d in letters] == entries
    for (case, _), letter in zip(BODIES, letters, strict=True):
        assert (letter["kind"], letter["deliveries"]) == ("malformed", "1"), (case, letter)
        assert "body" in letter["withheld"], case
    assert "deeper than 32" in letters[1]["reason"]
    assert "same key twice" in letters[4]["reason"]

    assert (permanent["kind"], permanent["deliveries"], permanent["entry_id"]) == (
        "failed",
        "1",
        perm,
    )
    assert permanent["reason"].startswith("permanent failure: playbook failed (rc 2): Apply the ")
    assert "api_key_secret needs a namespace" in permanent["reason"]
    assert [run["status"] for run in (await order_of(svc, "m-perm"))["runs"]] == ["failed"]
    assert (await order_of(svc, "good-1"))["status"] == "succeeded"


async def test_an_entry_whose_admission_keeps_raising_is_dead_lettered_at_the_limit(
    redis_server: RedisServer, r: redis.Redis, make_service: ServiceFactory
) -> None:
    svc = await start(make_service, redis_server, redis_max_deliveries=2)
    await provision(svc, "demo")  # else the ownership rule refuses the entry before any write
    other = sqlite3.connect(svc.settings.ledger_path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another writer holds the ledger: every accept raises
    try:
        entry, _ = send(r, "m-locked", "key.rotate", "demo", {"alias": "team-a"})
        await wait_for(timeout=LONG, probe=lambda: len(dead_letters(r)) == 1, what="dead letter")
    finally:
        other.execute("ROLLBACK")
        other.close()
    [letter] = dead_letters(r)
    assert (letter["kind"], letter["deliveries"], letter["entry_id"]) == ("failed", "2", entry)
    assert letter["reason"] == "admitting it failed on each of 2 deliveries (LedgerWriteError)"
    assert json.loads(letter["body"]) == {"alias": "team-a"}
    # the intake goes on: the next entry is admitted and runs
    send(r, "m-next", "key.rotate", "demo", {"alias": "team-b"})

    async def next_done() -> bool:
        try:
            return (await order_of(svc, "m-next"))["status"] == "succeeded"
        except AssertionError:  # not admitted yet
            return False

    await wait_for_async(timeout=LONG, probe=next_done, what="the next entry's run")
    await wait_for(timeout=LONG, probe=lambda: pending(r) == 0, what="the next entry acked")
    assert len(dead_letters(r)) == 1
