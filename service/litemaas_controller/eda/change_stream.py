"""``rhpds.litemaas.change_stream``: the service's model/key messages as ansible-rulebook events.

The same Redis Streams consumer group as the service (``intake.messages.stream``), the same
parsing and refusals (``intake.messages.parse``) and the same dead letters
(``intake.messages.deadletter``), with at-least-once delivery to playbooks: the source never
acknowledges an entry it turned into an event.  The playbook's last task does
(``rhpds.litemaas.stream_ack``), so an entry whose run failed, or that was lost with a crash of
ansible-rulebook or of the run, stays pending:

- on a restart under the same consumer name, this consumer's pending entries are read first;
- an entry is renewed (its idle time reset) while its run may still be going, up to
  ``run_timeout``; after that, and after a crash of another consumer, it is claimed once it has
  been idle for ``claim_idle`` and delivered again;
- an entry delivered more than ``max_deliveries`` times without being acknowledged is
  dead-lettered, as is a message the service would refuse (the ledger is never involved).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from litemaas_controller.config import Settings
from litemaas_controller.dispatch.changes import change_extravars
from litemaas_controller.eda.args import Args
from litemaas_controller.errors import BadInputError
from litemaas_controller.intake.messages import deadletter
from litemaas_controller.intake.messages.parse import Message, parse
from litemaas_controller.intake.messages.stream import Entry, Stream
from litemaas_controller.intake.ownership import default_namespace
from litemaas_controller.ledger import Action

log = logging.getLogger(__name__)

BATCH = 16
MAX_FOLLOWED = 256  # events whose runs may be going at once; reading pauses above it
BACKOFF = (0.2, 10.0)
ARGS = {
    "url", "stream", "group", "consumer", "dead_letter_stream", "claim_idle", "run_timeout",
    "max_deliveries", "upstream_allow",
}  # fmt: skip


def change_event(
    message: Message, entry: Entry, stream: Stream, upstream_allow: tuple[str, ...]
) -> dict[str, Any]:
    """The event of a valid message: what it is, where to acknowledge it, the playbook's vars."""
    namespace = default_namespace(message.instance)
    return {
        "message": {
            "id": message.id,
            "type": message.type,
            "instance": message.instance,
            "namespace": namespace,
        },
        "stream": {
            "name": stream.name,
            "group": stream.group,
            "entry_id": entry.id,
            "deliveries": entry.deliveries,
        },
        "extravars": change_extravars(
            Action(message.type), namespace, message.body, upstream_allow
        ),
    }


class ChangeSource:
    """Reads, claims and renews entries; each valid one becomes one event on ``queue``."""

    def __init__(
        self,
        queue: asyncio.Queue[Any],
        client: aioredis.Redis,
        stream: Stream,
        *,
        claim_idle: float,
        run_timeout: float,
        max_deliveries: int,
        upstream_allow: tuple[str, ...],
    ) -> None:
        self._queue = queue
        self._client = client
        self._stream = stream
        self._claim_idle = claim_idle
        self._run_timeout = run_timeout
        self._max = max_deliveries
        self._upstream_allow = upstream_allow
        #: entry id → until when its run may still be going (monotonic)
        self._followed: dict[str, float] = {}

    async def run(self) -> None:
        backoff = BACKOFF[0]
        try:
            while True:
                try:
                    await self._session()
                    backoff = BACKOFF[0]
                    continue  # the group vanished: create it again at once
                except (RedisError, OSError) as exc:
                    log.warning("Redis unavailable (%s); trying again in %.1f s", exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, BACKOFF[1])
        finally:
            await self._client.aclose()

    async def _session(self) -> None:
        # after a reconnect, what is still ours is read again (the stream's own entries first)
        await self._stream.session(self._followed.clear, self._emit_all, self._loop, BATCH)

    async def _loop(self) -> None:
        every = max(0.05, self._claim_idle / 3)
        block_ms = int(min(2.0, max(0.1, self._claim_idle / 4)) * 1000)
        next_claim = 0.0
        while True:
            if time.monotonic() >= next_claim:
                await self._settle_followed()
                idle_ms = max(1, int(self._claim_idle * 1000))
                await self._emit_all(await self._stream.claim_idle(idle_ms, BATCH))
                next_claim = time.monotonic() + every
            if len(self._followed) >= MAX_FOLLOWED:
                await asyncio.sleep(block_ms / 1000)
                continue
            await self._emit_all(await self._stream.read(">", BATCH, block_ms))

    async def _settle_followed(self) -> None:
        """Forget acknowledged entries and those past their run timeout; renew the others."""
        if not self._followed:
            return
        still = await self._stream.pending_here(MAX_FOLLOWED * 4)
        now = time.monotonic()
        for entry_id, until in list(self._followed.items()):
            if entry_id not in still or now >= until:
                del self._followed[entry_id]
        await self._stream.renew(list(self._followed))

    async def _emit_all(self, entries: list[Entry]) -> None:
        for entry in entries:
            if entry.id not in self._followed:
                await self._emit(entry)

    async def _emit(self, entry: Entry) -> None:
        if entry.fields is None:
            log.warning("entry %s was deleted from the stream while pending; acked", entry.id)
            await self._stream.ack(entry.id)
            return
        if entry.deliveries > self._max:
            reason = (
                f"not acknowledged after {entry.deliveries - 1} deliveries (its runs failed, "
                "timed out or were interrupted)"
            )
            await self._dead(entry, "failed", reason, valid=True)
            return
        try:
            message = parse(entry.id, entry.fields, self._upstream_allow)
        except BadInputError as exc:
            await self._dead(entry, exc.kind, exc.message, valid=False)
            return
        except Exception as exc:  # noqa: BLE001 (a limit or a bug of a parser: the entry goes)
            reason = f"the entry could not be parsed ({type(exc).__name__})"
            await self._dead(entry, "malformed", reason, valid=False)
            return
        self._followed[entry.id] = time.monotonic() + self._run_timeout
        await self._queue.put(change_event(message, entry, self._stream, self._upstream_allow))
        log.info("message %s (%s) in entry %s: event sent (delivery %d)",
                 message.id, message.type, entry.id, entry.deliveries)  # fmt: skip

    async def _dead(self, entry: Entry, kind: str, reason: str, *, valid: bool) -> None:
        letter = deadletter.DeadLetter(entry.id, kind, reason, entry.deliveries, valid)
        fields = deadletter.fields(letter, entry.fields or {}, self._stream.consumer)
        await self._stream.dead_letter(entry.id, fields)
        log.warning("message in entry %s dead-lettered (%s): %s", entry.id, kind, reason)


def from_args(queue: asyncio.Queue[Any], args: dict[str, Any]) -> ChangeSource:
    """The source, from its arguments (checked here; nothing connects yet)."""
    a = Args("rhpds.litemaas.change_stream", args, ARGS)
    defaults = Settings()
    url = a.required_text("url")
    claim_idle = a.number("claim_idle", defaults.redis_claim_idle, 0.05, 86400.0)
    run_timeout = a.number("run_timeout", 3600.0, 0.1, 7 * 86400.0)
    max_deliveries = a.integer("max_deliveries", defaults.redis_max_deliveries, 1, 1000)
    upstream_allow = a.texts("upstream_allow") or defaults.upstream_allow
    name = a.text("stream", defaults.redis_stream) or defaults.redis_stream
    dead = a.text("dead_letter_stream", f"{name}:dead") or f"{name}:dead"
    group = a.text("group", "litemaas-eda") or "litemaas-eda"
    consumer = a.text("consumer", defaults.redis_consumer) or defaults.redis_consumer
    # nothing connects yet: the client does when the source first reads
    client = aioredis.Redis.from_url(
        url, socket_connect_timeout=5.0, socket_timeout=min(2.0, max(0.1, claim_idle / 4)) + 10.0
    )
    return ChangeSource(
        queue,
        client,
        Stream(client, name, dead, group, consumer),
        claim_idle=claim_idle,
        run_timeout=run_timeout,
        max_deliveries=max_deliveries,
        upstream_allow=upstream_allow,
    )


async def serve(queue: asyncio.Queue[Any], args: dict[str, Any]) -> None:
    """Consume until cancelled (ansible-rulebook cancels its sources when it stops)."""
    await from_args(queue, args).run()
