"""The Redis Streams commands the intake uses, typed, on one stream and one consumer group.

redis-py's asyncio client reconnects by itself; a command on a dead server raises
``redis.exceptions.ConnectionError`` (a ``RedisError``), which the consumer's supervisor handles.
Acks, dead letters and renewals are fenced (``fenced``): they act only on entries still pending
on this consumer.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import ResponseError

from litemaas_controller.intake.messages import fenced

log = logging.getLogger(__name__)

Fields = Mapping[bytes, bytes]


@dataclass(frozen=True)
class Entry:
    id: str
    fields: Fields | None  # None: the entry was deleted from the stream while pending
    deliveries: int


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _id(value: bytes | str) -> tuple[int, int]:
    ms, _, seq = _text(value).partition("-")
    return int(ms), int(seq or 0)


#: NOGROUP as Redis answers it: the reply's code (``NOGROUP No such key …``), or inside a Lua
#: script's error (Redis 7: ``NOGROUP … script: …``; Redis 6 wraps it: ``ERR Error running script
#: (call to f_…): @user_script:25: @user_script: 25: -NOGROUP …``)
_NOGROUP = re.compile(r"(?:^|[\s:]-?)NOGROUP\b")


def is_nogroup(exc: ResponseError) -> bool:
    return _NOGROUP.search(str(exc)) is not None


class Stream:
    def __init__(
        self, client: aioredis.Redis, stream: str, dead: str, group: str, consumer: str
    ) -> None:
        self._r = client
        self.name, self.dead, self.group, self.consumer = stream, dead, group, consumer
        self._settle = client.register_script(fenced.SETTLE)  # EVALSHA, loaded when missing
        self._renew = client.register_script(fenced.RENEW)

    async def ensure_group(self) -> bool:
        """Create the group (and the stream) unless it exists; True when it was created.

        From id 0, not ``$``: after Redis lost the group, entries still in the stream are read
        again rather than skipped; the ledger's dedupe makes the repeats harmless.
        """
        try:
            await self._r.xgroup_create(self.name, self.group, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" in str(exc):
                return False
            raise
        return True

    async def session(
        self,
        connected: Callable[[], None],
        own: Callable[[list[Entry]], Awaitable[None]],
        loop: Callable[[], Awaitable[None]],
        batch: int,
    ) -> None:
        """One session of a consumer: the group made sure of, ``connected()``, its own pending
        entries (a restart under the same consumer name) to ``own``, then ``loop`` until the
        group vanishes (NOGROUP: returns, for the caller to start the next session at once).
        Redis errors reach the caller, which backs off."""
        if await self.ensure_group():
            log.warning("consumer group %s created on %s (first start, or Redis lost it)",
                        self.group, self.name)  # fmt: skip
        connected()
        try:
            await own(await self.read("0", batch * 4, None))
            await loop()
        except ResponseError as exc:
            if not is_nogroup(exc):
                raise
            log.warning("consumer group %s is gone (Redis restarted without its data?)",
                        self.group)  # fmt: skip

    async def read(self, start: str, count: int, block_ms: int | None) -> list[Entry]:
        """New entries (``>``) or this consumer's own pending ones (``0``)."""
        reply = await self._r.xreadgroup(
            self.group, self.consumer, {self.name: start}, count=count, block=block_ms
        )
        entries = [(_text(i), f) for _, batch in (reply or []) for i, f in batch]
        if start == ">":
            return [Entry(i, f, 1) for i, f in entries]
        return [Entry(i, f or None, await self.deliveries(i)) for i, f in entries]

    async def claim_idle(self, min_idle_ms: int, count: int) -> list[Entry]:
        """Entries idle for ``min_idle_ms`` in any consumer (a dead one, or a failed run's)."""
        claimed: list[Entry] = []
        cursor = "0-0"
        while len(claimed) < count:
            reply: Sequence[Any] = await self._r.xautoclaim(
                self.name, self.group, self.consumer, min_idle_ms, cursor, count=count
            )
            cursor = _text(reply[0])
            for raw_id, entry_fields in reply[1]:
                entry_id = _text(raw_id)
                delivered = await self.deliveries(entry_id)
                claimed.append(Entry(entry_id, entry_fields or None, delivered))
            if cursor == "0-0":
                break
        return claimed

    async def deliveries(self, entry_id: str) -> int:
        pending = await self._r.xpending_range(
            self.name, self.group, min=entry_id, max=entry_id, count=1
        )
        return int(pending[0]["times_delivered"]) if pending else 1

    async def pending_here(self, count: int) -> set[str]:
        """The ids of (at most ``count``) entries pending for this consumer."""
        pending = await self._r.xpending_range(
            self.name, self.group, min="-", max="+", count=count, consumername=self.consumer
        )
        return {_text(p["message_id"]) for p in pending}

    async def renew(self, entry_ids: Sequence[str]) -> list[str]:
        """Reset the idle time of entries still being worked on (JUSTID: no delivery counted),
        those still pending on this consumer; return the others (another consumer claimed them)."""
        if not entry_ids:
            return []
        lost = await self._renew(keys=[self.name], args=[self.group, self.consumer, *entry_ids])
        return [_text(i) for i in lost]

    async def ack(self, entry_id: str) -> bool:
        """Acknowledge the entry while it is pending on this consumer (checked and acked in one
        step); False, nothing done, when another consumer has claimed it meanwhile."""
        return await self._settled(entry_id, {})

    async def dead_letter(self, entry_id: str, fields: Mapping[str, str]) -> bool:
        """Write the dead letter and acknowledge the entry in one step, as ``ack``."""
        return await self._settled(entry_id, fields)

    async def _settled(self, entry_id: str, letter: Mapping[str, str]) -> bool:
        args = [self.group, self.consumer, entry_id, *(x for kv in letter.items() for x in kv)]
        holder = _text(await self._settle(keys=[self.name, self.dead], args=args))
        if holder != self.consumer:
            log.warning("entry %s is now %s; not acked here", entry_id,
                        f"{holder}'s" if holder else "settled elsewhere")  # fmt: skip
            return False
        return True

    async def trim(self, keep_s: float, dead_keep_s: float, now: float) -> int:
        """Drop acknowledged entries older than ``keep_s``, and dead letters past theirs.

        XTRIM MINID at the retention's edge, held back to the oldest entry any group still has
        pending and to the first entry any group has not read yet: those are never trimmed.
        """
        edge = (int((now - keep_s) * 1000), 0)
        for group in await self._r.xinfo_groups(self.name):
            last = _id(group["last-delivered-id"])
            edge = min(edge, (last[0], last[1] + 1))
            if group["pending"]:
                summary = await self._r.xpending(self.name, _text(group["name"]))
                edge = min(edge, _id(summary["min"]))
        trimmed = await self._r.xtrim(self.name, minid=f"{edge[0]}-{edge[1]}", approximate=False)
        dead_edge = int((now - dead_keep_s) * 1000)
        await self._r.xtrim(self.dead, minid=f"{dead_edge}-0", approximate=False)
        return int(trimmed)
