"""Acknowledgements are fenced: a consumer acks, dead-letters or renews an entry only while it is
still pending on it.  A replica paused past the claim idle time finds its entry claimed by
another (XAUTOCLAIM; here XCLAIM with min-idle 0): its late ack does not happen and it audits
nothing; the new holder settles the entry."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis
import redis.asyncio as aioredis
from prometheus_client import CollectorRegistry

from litemaas_controller.api import keys
from litemaas_controller.intake.messages.handler import Admitted, Handler
from litemaas_controller.intake.messages.metrics import MessageMetrics
from litemaas_controller.intake.messages.parse import Message
from litemaas_controller.intake.messages.stream import Entry, Stream
from waiting import wait_for, wait_for_async

from .msgkit import DEAD, GROUP, STREAM, UPSERT, dead_letters, order_of, provision, send, start
from .redisproc import PASSWORD, RedisServer
from .servicekit import ServiceFactory

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


@pytest.fixture
async def client(redis_server: RedisServer) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis(port=redis_server.port, password=PASSWORD)
    yield client
    await client.aclose()


async def read_by_a_claimed_by_b(client: aioredis.Redis, r: redis.Redis) -> tuple[Stream, Entry]:
    """Consumer A's stream, and an entry A read that consumer B has claimed since."""
    a = Stream(client, STREAM, DEAD, GROUP, "a")
    await a.ensure_group()
    entry_id, _ = send(r, "m-1", "model.upsert", "demo", UPSERT)
    [entry] = await a.read(">", 1, None)
    assert entry.id == entry_id
    r.xclaim(STREAM, GROUP, "b", 0, [entry_id])  # A paused; B claims it
    return a, entry


def holder(r: redis.Redis, entry_id: str) -> str | None:
    pending: list[dict[str, Any]] = r.xpending_range(STREAM, GROUP, entry_id, entry_id, 1)  # type: ignore[assignment]
    return str(pending[0]["consumer"]) if pending else None


async def test_a_late_ack_dead_letter_or_renewal_leaves_the_entry_to_its_new_holder(
    client: aioredis.Redis, r: redis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    a, entry = await read_by_a_claimed_by_b(client, r)
    entry_id = entry.id

    assert await a.ack(entry_id) is False
    assert await a.dead_letter(entry_id, {"reason": "late"}) is False
    assert await a.renew([entry_id]) == [entry_id]  # lost: not claimed back

    assert holder(r, entry_id) == "b" and dead_letters(r) == []
    assert f"entry {entry_id} is now b's; not acked here" in caplog.text
    b = Stream(client, STREAM, DEAD, GROUP, "b")
    assert await b.renew([entry_id]) == []
    assert await b.ack(entry_id) is True
    assert holder(r, entry_id) is None
    assert await b.ack(entry_id) is False  # settled: nobody's any more


async def test_a_follower_whose_entry_was_claimed_neither_acks_nor_audits(
    make_service: ServiceFactory,
    client: aioredis.Redis,
    r: redis.Redis,
    caplog: pytest.LogCaptureFixture,
) -> None:
    svc = await make_service("quick")
    order = {"id": "o-fenced", "action": "provision", "instance": "demo"}
    assert (await svc.post_order(order)).status == 202
    assert (await svc.finished("o-fenced"))["status"] == "succeeded"
    app = svc.client.app
    a, entry = await read_by_a_claimed_by_b(client, r)
    entry_id = entry.id
    registry = CollectorRegistry()
    metrics = MessageMetrics(registry)
    handler = Handler(app[keys.INTAKE], a, metrics, max_deliveries=3, upstream_allow=())
    message = Message(entry_id, "m-1", "model.upsert", "demo", UPSERT)

    await handler.follow(Admitted(entry, message, "o-fenced"))  # the order has succeeded

    assert holder(r, entry_id) == "b"
    audit = await app[keys.STORE].audit.list(subject="o-fenced")
    assert "message.acked" not in [e.action for e in audit]
    assert f"entry {entry_id} is now b's; not acked here" in caplog.text
    outcome = {"type": "model.upsert", "outcome": "succeeded"}
    assert registry.get_sample_value("litemaas_messages_total", outcome) is None


async def test_a_consumer_whose_entry_was_claimed_stops_following_it(
    make_service: ServiceFactory,
    redis_server: RedisServer,
    client: aioredis.Redis,
    r: redis.Redis,
    caplog: pytest.LogCaptureFixture,
) -> None:
    svc = await start(make_service, redis_server, redis_claim_idle=3.0)  # renewals every 1 s
    await provision(svc, "demo")
    entry_id, _ = send(r, "m-1", "model.upsert", "demo", {**UPSERT, "name": "hold-llama"})
    await wait_for(lambda: svc.evidence.count("start") == 2, what="the message's run")
    b = asyncio.create_task(keep_claiming(client, entry_id))  # B, alive, owns it from now on
    try:
        lost = f"entry {entry_id} was claimed by another consumer; no longer followed here"
        await wait_for(lambda: lost in caplog.text, what="the service to let the entry go")
        svc.evidence.release()

        async def ended() -> bool:
            return (await order_of(svc, "m-1"))["status"] == "succeeded"

        await wait_for_async(ended, what="the order to succeed")
        assert holder(r, entry_id) == "b"  # not claimed back, not acked by the service
        audit = await svc.client.app[keys.STORE].audit.list(subject="msg:m-1")
        assert "message.acked" not in [e.action for e in audit]
    finally:
        b.cancel()
        await asyncio.gather(b, return_exceptions=True)


async def keep_claiming(client: aioredis.Redis, entry_id: str) -> None:
    """Consumer B's renewals: the entry never idles long enough for the service to claim it."""
    while True:
        await client.xclaim(STREAM, GROUP, "b", 0, [entry_id], justid=True)
        await asyncio.sleep(0.2)
