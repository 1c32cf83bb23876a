"""The Redis Streams intake: read, claim, renew; supervised, backing off while Redis is down.

One loop reads new entries (XREADGROUP ``>`` with a block) and, every so often, claims entries
left idle by any consumer (XAUTOCLAIM with the claim idle time): those of a consumer that died,
and those whose run failed and were left pending to be retried.  Entries still being worked on
are renewed (XCLAIM JUSTID, which counts no delivery) so they are never claimed from under us;
those another consumer claimed all the same (this replica was paused past the claim idle time)
are no longer followed here: their new holder settles them (``fenced``).

Cancelling ``run`` (SIGTERM) stops reading and drops the followers: their entries stay pending
and unacknowledged, and the next start claims them again; their orders are in the ledger, so
nothing runs twice and nothing is lost.
"""

from __future__ import annotations

import asyncio
import logging
import time

import redis.asyncio as aioredis
from redis.exceptions import RedisError, ResponseError

from litemaas_controller.config import Settings
from litemaas_controller.intake.messages.handler import Admitted, Handler
from litemaas_controller.intake.messages.metrics import MessageMetrics
from litemaas_controller.intake.messages.state import RedisState
from litemaas_controller.intake.messages.stream import Entry, Stream
from litemaas_controller.intake.orders import OrderIntake

log = logging.getLogger(__name__)

BATCH = 16  # entries per read or claim
MAX_FOLLOWED = 256  # entries waiting for their runs at once; reading pauses above it
BACKOFF = (0.2, 10.0)  # first and longest wait between attempts while Redis is down


class MessageConsumer:
    """``Intake`` for model-change messages on ``settings.redis_stream``."""

    name = "redis"

    def __init__(
        self,
        orders: OrderIntake,
        settings: Settings,
        metrics: MessageMetrics,
        state: RedisState,
    ) -> None:
        assert settings.redis_url is not None
        self._settings = settings
        self._client = aioredis.Redis.from_url(
            settings.redis_url,
            socket_connect_timeout=5.0,
            # a blocked read answers within its block time; past this the server is gone
            socket_timeout=self._block_s + 10.0,
        )
        self._stream = Stream(
            self._client,
            settings.redis_stream,
            settings.redis_dead_letter_stream,
            settings.redis_group,
            settings.redis_consumer,
        )
        self._handler = Handler(
            orders, self._stream, metrics, settings.redis_max_deliveries, settings.upstream_allow
        )
        self._state = state
        self._followed: dict[str, asyncio.Task[None]] = {}
        self._backoff = BACKOFF[0]

    @property
    def _block_s(self) -> float:
        return min(2.0, max(0.1, self._settings.redis_claim_idle / 4))

    @property
    def _every_s(self) -> float:
        """How often idle entries are claimed and ours renewed: well inside the idle time."""
        return max(0.05, self._settings.redis_claim_idle / 3)

    async def run(self) -> None:
        try:
            while True:
                await self._supervised_session()
        finally:
            await self._stop()

    async def _supervised_session(self) -> None:
        try:
            await self._session()
            return  # the group vanished: create it again at once
        except (RedisError, OSError) as exc:
            self._state.down(str(exc))
            log.warning("Redis unavailable (%s); trying again in %.1f s", exc, self._backoff)
        except Exception as exc:  # the supervisor: anything else is a bug, logged, then restarted
            self._state.down(f"{type(exc).__name__}: {exc}")
            log.exception("the message intake failed; restarting it in %.1f s", self._backoff)
        await asyncio.sleep(self._backoff)
        self._backoff = min(self._backoff * 2, BACKOFF[1])

    async def _session(self) -> None:
        await self._stream.session(self._connected, self._admit_all, self._loop, BATCH)

    def _connected(self) -> None:
        self._state.up()
        self._backoff = BACKOFF[0]

    async def _loop(self) -> None:
        block_ms = int(self._block_s * 1000)
        next_claim = next_trim = 0.0
        while True:
            if time.monotonic() >= next_trim:
                await self._trim()
                next_trim = time.monotonic() + self._settings.prune_interval
            if time.monotonic() >= next_claim:
                for entry_id in await self._stream.renew(list(self._followed)):
                    self._lost(entry_id)
                await self._admit_all(await self._stream.claim_idle(self._idle_ms, BATCH))
                next_claim = time.monotonic() + self._every_s
            if len(self._followed) >= MAX_FOLLOWED:
                await asyncio.wait(
                    self._followed.values(),
                    timeout=self._block_s,
                    return_when=asyncio.FIRST_COMPLETED,
                )
                continue
            await self._admit_all(await self._stream.read(">", BATCH, block_ms))

    async def _trim(self) -> None:
        s = self._settings
        try:
            trimmed = await self._stream.trim(
                s.stream_retention, s.dead_letter_retention, time.time()
            )
        except ResponseError as exc:  # a Redis before 6.2 has no MINID: intake goes on untrimmed
            log.warning("trimming %s failed (%s); the stream grows until it works",
                        s.redis_stream, exc)  # fmt: skip
            return
        if trimmed:
            log.info("retention trimmed %d acknowledged entries from %s", trimmed, s.redis_stream)

    @property
    def _idle_ms(self) -> int:
        return max(1, int(self._settings.redis_claim_idle * 1000))

    async def _admit_all(self, entries: list[Entry]) -> None:
        for entry in entries:
            if entry.id in self._followed:
                continue  # claimed while we still wait for its run
            admitted = await self._handler.admit(entry)
            if admitted is not None:
                self._follow(admitted)

    def _follow(self, admitted: Admitted) -> None:
        entry_id = admitted.entry.id
        task = asyncio.create_task(self._handler.follow(admitted), name=f"message:{entry_id}")
        self._followed[entry_id] = task
        task.add_done_callback(lambda t: self._followed_done(entry_id, t))

    def _lost(self, entry_id: str) -> None:
        if (task := self._followed.get(entry_id)) is not None:
            task.cancel()
            log.warning("entry %s was claimed by another consumer; no longer followed here",
                        entry_id)  # fmt: skip

    def _followed_done(self, entry_id: str, task: asyncio.Task[None]) -> None:
        self._followed.pop(entry_id, None)
        if task.cancelled():
            return
        if (exc := task.exception()) is not None:
            # the entry stays pending: it is claimed again after the idle time and settled then
            log.warning("entry %s not settled (%s); it is delivered again later", entry_id, exc)

    async def _stop(self) -> None:
        tasks = list(self._followed.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self._client.aclose()
