"""One stream entry, from delivery to acknowledgement: the rules of DESIGN.md's message contract.

``admit`` runs in the reading loop, in stream order, so an instance's messages enter the ledger
(and so its queue) in the order they were sent.  ``follow`` then waits for the order's end in a
task of its own and only then acknowledges: a message is never acked before its run ended.

- invalid (not UTF-8, not the envelope, body not strict JSON or not its type's schema, a raw
  secret), or any exception while parsing it: dead-lettered at once, the ledger untouched;
- admitting it raised (the ledger failing, not the entry's content): left pending, delivered
  again, dead-lettered when the delivery count reaches the limit;
- the same ``id`` with other content: dead-lettered as a conflict (the ledger keeps the first);
- the same ``id`` and content in another entry: acked, nothing runs again;
- a run that failed: not acked; the entry is delivered again after the claim idle time and the
  order is queued again (behind the instance's orders that arrived meanwhile), until the
  delivery count reaches the limit: then dead-lettered;
- a retry that a newer message about the same model or alias has overtaken (it ran first):
  dropped by dispatch (order ``superseded``) and acked.
- an entry once dead-lettered (the ledger remembers it, as long as its tombstones): acked when it
  is read again (a consumer group created anew reads the stream from its start), never run.
- a run whose failure is permanent (``ledger.models.is_permanent``): dead-lettered at once.
- an entry another consumer has claimed meanwhile (this replica was paused past the claim idle
  time): neither acked nor dead-lettered here, nothing audited; its new holder settles it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

from redis.exceptions import RedisError

from litemaas_controller.errors import BadInputError, ConflictError, LedgerWriteError
from litemaas_controller.intake.messages import deadletter
from litemaas_controller.intake.messages.metrics import MessageMetrics
from litemaas_controller.intake.messages.parse import Message, decode, parse
from litemaas_controller.intake.messages.stream import Entry, Stream
from litemaas_controller.intake.orders import OrderIntake
from litemaas_controller.ledger import TERMINAL_ORDER, Action, NewOrder, OrderRecord, OrderStatus
from litemaas_controller.ledger.models import is_permanent

log = logging.getLogger(__name__)

ORDER_PREFIX = "msg:"


@dataclass(frozen=True)
class Admitted:
    """An entry whose order is in the ledger and must be followed to its end."""

    entry: Entry
    message: Message
    order_id: str


class Handler:
    def __init__(
        self,
        orders: OrderIntake,
        stream: Stream,
        metrics: MessageMetrics,
        max_deliveries: int,
        upstream_allow: tuple[str, ...],
    ) -> None:
        self._orders = orders
        self._stream = stream
        self._metrics = metrics
        self._max = max_deliveries
        self._upstream_allow = upstream_allow

    # --- in stream order ------------------------------------------------------------------------
    async def admit(self, entry: Entry) -> Admitted | None:
        """Validate and accept ``entry``; None when it is already settled (acked or dead)."""
        if entry.fields is None:
            log.warning("entry %s was deleted from the stream while pending; acked", entry.id)
            await self._stream.ack(entry.id)
            return None
        if await self._orders.store.dead_letters.is_dead(self._key(entry)):
            await self._stream.ack(entry.id)
            self._metrics.count(_type_of(entry), "duplicate")
            log.info("entry %s was dead-lettered before; acked, nothing runs", entry.id)
            return None
        message = await self._parsed(entry)
        if message is None:
            return None
        try:
            return await self._accepted(entry, message)
        except (RedisError, OSError):
            raise  # Redis or the host is down: the consumer's supervisor waits and goes on
        except Exception as exc:  # noqa: BLE001 (one entry must never stop the intake)
            await self._not_admitted(entry, message, exc)
            return None

    async def _parsed(self, entry: Entry) -> Message | None:
        """The entry's message; None when it was dead-lettered as refused or unparsable."""
        assert entry.fields is not None
        try:
            return parse(entry.id, entry.fields, self._upstream_allow)
        except BadInputError as exc:
            await self._dead(entry, _type_of(entry), exc.kind, exc.message, valid=False)
        except Exception as exc:  # noqa: BLE001 (a limit or a bug of a parser: the entry goes)
            # the type only: an exception's text may quote what the entry held
            reason = f"the entry could not be parsed ({type(exc).__name__})"
            await self._dead(entry, _type_of(entry), "malformed", reason, valid=False)
        return None

    async def _not_admitted(self, entry: Entry, message: Message, exc: Exception) -> None:
        """Admitting raised for a reason that is not the entry's content (the ledger?): the entry
        stays pending and is delivered again, and dead-lettered once that reaches the limit."""
        cause = type(exc).__name__
        if entry.deliveries >= self._max:
            reason = f"admitting it failed on each of {entry.deliveries} deliveries ({cause})"
            await self._dead(entry, message.type, "failed", reason, message_id=message.id)
            return
        log.warning("entry %s not admitted (%s, delivery %d of %d); delivered again later",
                    entry.id, cause, entry.deliveries, self._max, exc_info=exc)  # fmt: skip

    async def _accepted(self, entry: Entry, message: Message) -> Admitted | None:
        try:
            record, created = await self._orders.accept(self._order(message))
        except ConflictError as exc:
            await self._dead(entry, message.type, "conflict", exc.message, message_id=message.id)
            return None
        if created:
            self._metrics.count(message.type, "accepted")
            log.info("message %s (%s %s) accepted as order %s", message.id, message.type,
                     message.instance, record.id)  # fmt: skip
        elif not record.source.endswith("/" + entry.id):
            await self._stream.ack(entry.id)
            self._metrics.count(message.type, "duplicate")
            log.info("message %s repeated in entry %s: acked, nothing runs again",
                     message.id, entry.id)  # fmt: skip
            return None
        elif not await self._redelivered(entry, message, record):
            return None
        return Admitted(entry, message, record.id)

    def _order(self, message: Message) -> NewOrder:
        return NewOrder(
            id=ORDER_PREFIX + message.id,
            action=Action(message.type),
            instance=message.instance,
            namespace=None,
            vars=message.body,
            body=message.canonical(),
            source=f"redis:{self._stream.name}/{message.entry_id}",
            principal=f"redis:{self._stream.group}",
        )

    async def _redelivered(self, entry: Entry, message: Message, record: OrderRecord) -> bool:
        """This entry's order exists already: decide whether to follow it (True) or settle it."""
        if record.status in (OrderStatus.FAILED, OrderStatus.CANCELLED):
            if record.status == OrderStatus.CANCELLED or not self._retryable(entry, record):
                if await self._dead(entry, message.type, _kind(record), _reason(record),
                                    message_id=message.id):  # fmt: skip
                    await self._audit("message.dead_lettered", record, entry)
                return False
            reason = f"message delivered again ({entry.deliveries} of {self._max})"
            await self._orders.retry(record.id, reason)
            log.info("message %s: %s; its order runs again", message.id, reason)
        return True  # queued or running (a restart), or succeeded (acked by follow)

    # --- concurrently, one task per admitted entry ----------------------------------------------
    async def follow(self, admitted: Admitted) -> None:
        """Wait for the order's end; then ack, leave pending for a retry, or dead-letter."""
        final = await self._ended(admitted.order_id)
        message = admitted.message
        # counted now, not at delivery: a starved loop may have let the entry be claimed meanwhile
        count = await self._stream.deliveries(admitted.entry.id)
        entry = replace(admitted.entry, deliveries=max(count, admitted.entry.deliveries))
        done = final.status in (OrderStatus.SUCCEEDED, OrderStatus.SUPERSEDED)
        if done and not await self._stream.ack(entry.id):
            return  # another consumer claimed the entry meanwhile: it settles it, not us
        if final.status == OrderStatus.SUCCEEDED:
            self._metrics.count(message.type, "succeeded")
            await self._audit("message.acked", final, entry)
            log.info("message %s done (order %s succeeded); acked", message.id, final.id)
        elif final.status == OrderStatus.SUPERSEDED:
            # a newer message about the same model or alias ran first: nothing left to do
            self._metrics.count(message.type, "superseded")
            await self._audit("message.acked", final, entry)
            log.info("message %s dropped, acked: %s", message.id, final.message)
        elif final.status == OrderStatus.FAILED and self._retryable(entry, final, after=True):
            self._metrics.count(message.type, "retried")
            log.warning("message %s: run failed (delivery %d of %d); delivered again later: %s",
                        message.id, entry.deliveries, self._max, final.message)  # fmt: skip
        elif await self._dead(entry, message.type, _kind(final), _reason(final),
                              message_id=message.id):  # fmt: skip
            await self._audit("message.dead_lettered", final, entry)

    def _retryable(self, entry: Entry, failed: OrderRecord, *, after: bool = False) -> bool:
        """A failed order runs again unless its failure is permanent or the deliveries are used
        up (``after`` its run: this delivery is spent; before: it is the next run's)."""
        if is_permanent(failed.message):
            return False
        return entry.deliveries < self._max if after else entry.deliveries <= self._max

    async def _ended(self, order_id: str) -> OrderRecord:
        store = self._orders.store
        while True:
            record = await store.orders.get(order_id)
            if record is None:
                raise LookupError(f"order {order_id} vanished from the ledger")
            if record.status in TERMINAL_ORDER:
                return record
            await store.wait_changed(timeout=5.0)

    def _key(self, entry: Entry) -> str:
        return f"{self._stream.name}/{entry.id}"

    async def _dead(
        self,
        entry: Entry,
        message_type: str,
        kind: str,
        reason: str,
        *,
        valid: bool = True,
        message_id: str | None = None,
    ) -> bool:
        """Dead-letter the entry; False when another consumer has claimed it (nothing done)."""
        letter = deadletter.DeadLetter(entry.id, kind, reason, entry.deliveries, valid)
        fields = deadletter.fields(letter, entry.fields or {}, self._stream.consumer)
        # the ledger first: a crash before the letter is written loses that letter (the mark and
        # the order keep the reason), never lets the entry run again when it is read again
        try:
            await self._orders.store.dead_letters.record(self._key(entry), message_id, kind)
        except LedgerWriteError as exc:
            # a ledger that refuses writes must not keep the entry from its dead letter (it is
            # often why the entry is given up): only a re-read of the whole stream could run it
            log.error("entry %s: its dead-letter mark could not be kept (%s)", entry.id, exc)
        if not await self._stream.dead_letter(entry.id, fields):
            return False
        self._metrics.dead(message_type, kind)
        log.warning("message in entry %s dead-lettered (%s): %s", entry.id, kind, reason)
        return True

    async def _audit(self, action: str, order: OrderRecord, entry: Entry) -> None:
        detail = {"entry": entry.id, "deliveries": entry.deliveries, "status": order.status}
        await self._orders.store.audit.append(
            order.principal, action, order.id, order.source, detail
        )


def _type_of(entry: Entry) -> str:
    try:
        return decode(entry.fields or {}).get("type", "unknown")
    except BadInputError:
        return "unknown"


def _kind(record: OrderRecord) -> str:
    return "failed" if record.status == OrderStatus.FAILED else str(record.status)


def _reason(record: OrderRecord) -> str:
    return record.message or f"the order ended {record.status}"
