"""Retention: payloads and stream entries go, tombstones stay, dead letters never run again.

Real Redis (our own redis-server) and the service in-process with the fixture playbooks.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import pytest
import redis
import redis.asyncio as aioredis

from litemaas_controller.intake.messages.stream import Stream
from waiting import wait_for, wait_for_async

from .msgkit import DEAD, GROUP, STREAM, UPSERT, dead_letters, order_of, pending, provision, send
from .orderkit import ORDER
from .redisproc import RedisServer
from .servicekit import Service, ServiceFactory, problem

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

LONG = 300


async def test_an_old_order_id_is_still_a_duplicate_after_its_payload_is_pruned(
    make_service: ServiceFactory,
) -> None:
    service = await make_service("quick", order_retention=0.001, prune_interval=0.05)
    assert (await service.post_order(ORDER)).status == 202
    await service.finished(ORDER["id"])

    async def pruned() -> bool:
        return (await service.get(f"/api/v1/orders/{ORDER['id']}"))["pruned_at"] is not None

    await wait_for_async(pruned, what="the finished order's payload pruned")
    record = await service.get(f"/api/v1/orders/{ORDER['id']}")
    assert (record["vars"], record["results"], record["status"]) == ({}, None, "succeeded")
    # the catalog retries the old id: a duplicate (nothing runs), another body a conflict
    again = await service.post_order(ORDER)
    assert again.status == 200 and (await again.json())["id"] == ORDER["id"]
    await problem(await service.post_order({**ORDER, "vars": {}}), 409)
    assert len((await service.get(f"/api/v1/orders/{ORDER['id']}"))["runs"]) == 1


@pytest.fixture
async def stream(redis_server: RedisServer) -> AsyncIterator[Stream]:
    client = aioredis.Redis.from_url(redis_server.url)
    yield Stream(client, STREAM, DEAD, GROUP, "test")
    await client.aclose()


async def test_the_stream_loses_only_acknowledged_entries_past_retention(
    stream: Stream, redis_server: RedisServer
) -> None:
    r = redis_server.client()
    assert await stream.ensure_group()
    ids = [send(r, f"m-{n}", "key.rotate", "demo", {"alias": "a"})[0] for n in range(5)]
    read = await stream.read(">", 3, None)  # 0, 1, 2 delivered; 3 and 4 never read
    await stream.ack(read[0].id)
    await stream.ack(read[2].id)  # 1 stays pending
    r.xadd(DEAD, {"entry_id": ids[0]})

    assert await stream.trim(3600, 3600, time.time()) == 0  # nothing is old enough
    assert await stream.trim(0, 3600, time.time()) == 1  # only 0: 1 is pending
    assert [i for i, _ in r.xrange(STREAM)] == ids[1:] and r.xlen(DEAD) == 1
    await stream.ack(read[1].id)
    assert await stream.trim(0, 0, time.time()) == 2  # 1 and 2; 3 and 4 were never read
    assert [i for i, _ in r.xrange(STREAM)] == ids[3:] and r.xlen(DEAD) == 0


async def test_a_dead_lettered_message_never_runs_again_when_the_group_reads_from_the_start(
    redis_server: RedisServer, make_service: ServiceFactory
) -> None:
    r: redis.Redis = redis_server.client()
    svc: Service = await make_service(
        "messages",
        redis_url=redis_server.url,
        redis_consumer="test",
        redis_claim_idle=1.0,
        redis_max_deliveries=1,
    )
    await provision(svc, "demo")
    entry, _ = send(r, "m-fail", "model.upsert", "demo", {**UPSERT, "name": "fail-llama"})
    await wait_for(lambda: len(dead_letters(r)) == 1, timeout=LONG, what="the dead letter")

    r.xgroup_destroy(STREAM, GROUP)  # Redis lost the group: it is created again, from id 0

    def settled_again() -> bool:
        groups = r.xinfo_groups(STREAM)
        return bool(groups) and groups[0]["last-delivered-id"] == entry and pending(r) == 0

    await wait_for(settled_again, timeout=LONG, what="the entry read again and settled")
    order = await order_of(svc, "m-fail")
    assert [run["status"] for run in order["runs"]] == ["failed"]
    assert svc.evidence.count("failed") == 1 and len(dead_letters(r)) == 1
