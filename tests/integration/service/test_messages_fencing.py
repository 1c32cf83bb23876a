"""Acknowledgements are fenced: a consumer acks, dead-letters or renews an entry only while it is
still pending on it.  A replica paused past the claim idle time finds its entry claimed by
another (XAUTOCLAIM; here XCLAIM with min-idle 0): its late ack does not happen and it audits
nothing; the new holder settles the entry."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import redis
import redis.asyncio as aioredis
from prometheus_client import CollectorRegistry

from litemaas_controller.api import keys
from litemaas_controller.intake.messages.handler import Admitted, Handler
from litemaas_controller.intake.messages.metrics import MessageMetrics
from litemaas_controller.intake.messages.parse import Message
from litemaas_controller.intake.messages.stream import Entry, Stream

from .conftest import ServiceFactory
from .msgkit import DEAD, GROUP, STREAM, UPSERT, dead_letters, send
from .redisproc import PASSWORD, RedisServer

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
    pending = r.xpending_range(STREAM, GROUP, entry_id, entry_id, 1)
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
