"""The typed Redis Streams commands on a real Redis: claims honour their batch size."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from litemaas_controller.intake.messages.stream import Stream

from .msgkit import DEAD, GROUP, STREAM
from .redisproc import PASSWORD, RedisServer

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]


@pytest.fixture
async def stream(redis_server: RedisServer) -> AsyncIterator[Stream]:
    client = aioredis.Redis(port=redis_server.port, password=PASSWORD)
    yield Stream(client, STREAM, DEAD, GROUP, "claimer")
    await client.aclose()


async def test_a_claim_takes_at_most_its_batch_even_of_entries_delivered_many_times(
    redis_server: RedisServer, stream: Stream
) -> None:
    r = redis_server.client()
    await stream.ensure_group()
    ids = [str(r.xadd(STREAM, {"n": str(i)})) for i in range(10)]
    r.xreadgroup(GROUP, "gone", {STREAM: ">"})  # pending in a consumer that died
    r.xclaim(STREAM, GROUP, "gone", 0, ids, retrycount=5)  # each delivered 5 times already

    claimed = await stream.claim_idle(0, 2)

    assert [e.id for e in claimed] == ids[:2]
    assert [e.deliveries for e in claimed] == [6, 6]
    owners = {p["message_id"]: p["consumer"] for p in r.xpending_range(STREAM, GROUP, "-", "+", 10)}
    assert [owners[i] for i in ids] == ["claimer"] * 2 + ["gone"] * 8
