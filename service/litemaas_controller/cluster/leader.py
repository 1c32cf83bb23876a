"""Leader election on the Lease ``litemaas-controller``, with client-go's semantics, on asyncio.

(The ``kubernetes`` package's own ``leaderelection`` runs in threads, exits the process on a bad
setting, never releases and counts no transitions: this is client-go's algorithm instead.)

- A candidate tries every retry period (with client-go's jitter) and takes the Lease when there
  is none, nobody holds it (released), or its holder's lease expired: ``leaseDurationSeconds``
  after the moment *this* replica first saw the holder's current record, on its own monotonic
  clock: no other machine's clock is trusted.
- Writes are replaces carrying the resourceVersion read: when two try at once, one gets 409.
- The leader renews every retry period; when it has not renewed for the renew deadline (shorter
  than the lease) it stops leading, so it has stopped before any other replica may take over.
- A clean stop (cancellation) ends the work first, then releases the Lease (no holder, one
  second), so another replica takes it at its next try, not a whole lease later.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol

from kubernetes import client
from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import HTTPError

from litemaas_controller.cluster.client import REQUEST_TIMEOUT, KubeClient
from litemaas_controller.cluster.lease import NAME, LeaseLock, LeaseRecord, first, shown
from litemaas_controller.errors import ClusterError

log = logging.getLogger(__name__)

#: client-go's JitterFactor for the candidates' tries
JITTER = 1.2
#: what a try may fail with: the cluster unreachable or refusing, or a Lease that does not parse
FAILURES = (ApiException, ClusterError, HTTPError, OSError, TimeoutError, ValueError, TypeError)

Work = Callable[[], Coroutine[Any, Any, None]]


@dataclass(frozen=True)
class Timings:
    lease: float
    renew_deadline: float
    retry: float


class Observer(Protocol):
    """Told when this replica starts or stops leading (metrics)."""

    def leading(self, now: bool) -> None: ...


class Elector:
    """One replica's candidacy; ``run(work)`` runs ``work`` while it leads."""

    def __init__(self, kube: KubeClient, namespace: str, identity: str, timings: Timings,
                 observer: Observer) -> None:  # fmt: skip
        self.identity = identity
        self._kube = kube
        self._namespace = namespace
        self._timings = timings
        self._observer = observer
        self._lock: LeaseLock | None = None
        self._observed: LeaseRecord | None = None
        self._observed_at = 0.0
        self._held: Any = None  # the Lease as we last wrote it, while we lead
        self._why = ""  # why the last try failed, or how it took the Lease
        self.leads = False
        # its own threads: a call hanging on a cut connection never holds up the loop's others
        self._threads = ThreadPoolExecutor(2, thread_name_prefix="leader")

    @property
    def holder(self) -> str | None:
        """The holder this replica last saw (bounded), None before the first read."""
        return None if self._observed is None else shown(self._observed.holder)

    async def run(self, work: Work) -> None:
        """Forever: wait for the Lease, then run ``work`` while leading; a fresh ``work()``
        each time leadership is gained.  Cancelled: the work ends, then the Lease is released."""
        log.info("replica %s is a candidate for the Lease %s/%s", self.identity,
                 self._namespace, NAME)  # fmt: skip
        try:
            while True:
                await self._acquire()
                reason = await self._lead(work)
                log.warning("replica %s stopped leading: %s", self.identity, reason)
                await asyncio.sleep(self._timings.retry)
        except asyncio.CancelledError:
            await self._release()
            raise
        finally:
            self._threads.shutdown(wait=False, cancel_futures=True)

    # --- the candidate ------------------------------------------------------------------------
    async def _acquire(self) -> None:
        while not await self._try(self._timings.renew_deadline):
            pause = self._timings.retry * (1 + random.random() * JITTER)  # noqa: S311 (jitter)
            await asyncio.sleep(pause)

    async def _lead(self, work: Work) -> str:
        log.info("replica %s leads: %s (transitions: %d)", self.identity, self._why,
                 self._observed.transitions if self._observed else 0)  # fmt: skip
        self.leads = True
        self._observer.leading(True)
        task = asyncio.create_task(work(), name="leader:work")
        renew = asyncio.create_task(self._renew(), name="leader:renew")
        try:
            await asyncio.wait((task, renew), return_when=asyncio.FIRST_COMPLETED)
        finally:
            for ending in (task, renew):
                ending.cancel()
            await asyncio.gather(task, renew, return_exceptions=True)
            self.leads = False
            self._observer.leading(False)
        if not renew.cancelled():
            return renew.result()
        await self._release()  # the work ended by itself: let another replica lead
        return _ended(task)

    async def _renew(self) -> str:
        """Renew every retry period; the reason to stop leading once renewing failed for the
        whole renew deadline, or another replica holds the Lease."""
        renewed = time.monotonic()
        while True:
            await asyncio.sleep(self._timings.retry)
            while True:
                left = renewed + self._timings.renew_deadline - time.monotonic()
                if left <= 0:
                    return f"could not renew the Lease for {self._timings.renew_deadline:g}s " \
                           f"({self._why})"  # fmt: skip
                started = time.monotonic()
                if await self._try(left):
                    renewed = started
                    break
                if self._held is None:
                    return f"lost the Lease: {self._why}"
                await asyncio.sleep(min(self._timings.retry, max(0.0, left)))

    # --- one try: client-go's tryAcquireOrRenew -------------------------------------------------
    async def _try(self, budget: float) -> bool:
        """Take or renew the Lease within ``budget`` seconds."""
        deadline = time.monotonic() + budget
        try:
            return await self._try_within(deadline)
        except FAILURES as exc:
            why = _failure(exc)
            if why != self._why:  # once per new reason: a cut-off replica tries every period
                log.warning("replica %s could not read or write the Lease %s/%s: %s",
                            self.identity, self._namespace, NAME, why)  # fmt: skip
            self._why = why
            return False

    async def _try_within(self, deadline: float) -> bool:
        lock = await self._call(self._lease_lock, deadline)
        read = await self._call(lambda: lock.get(_left(deadline)), deadline)
        if read is None:
            self._why = "it created the Lease"
            mine = first(self.identity, self._timings.lease)
            return self._took(mine, await self._call(lambda: lock.create(mine, _left(deadline)),
                                                     deadline))  # fmt: skip
        record, lease = read
        self._observe(record)
        if record.holder != self.identity and record.holder and not self._expired(record):
            self._held = None
            self._why = f"held by {shown(record.holder)}"
            return False
        if record.holder == self.identity:
            self._why = "it holds the Lease"
        elif record.holder:
            self._why = f"the lease of {shown(record.holder)} expired"
        else:
            self._why = "the Lease was free (released)"
        mine = record.renewal(self.identity, self._timings.lease)
        written = await self._call(lambda: lock.replace(mine, lease, _left(deadline)), deadline)
        return self._took(mine, written)

    def _observe(self, record: LeaseRecord) -> None:
        """A record that differs from the last one seen starts its expiry on our clock."""
        if record != self._observed:
            if self._observed is not None and record.holder != self._observed.holder:
                log.info("the Lease's holder is now %s", shown(record.holder) or "nobody")
            self._observed = record
            self._observed_at = time.monotonic()

    def _expired(self, record: LeaseRecord) -> bool:
        return self._observed_at + record.duration <= time.monotonic()

    def _took(self, mine: LeaseRecord, written: Any) -> bool:
        if written is None:  # 409: another replica wrote first
            self._held = None
            self._why = "another replica wrote the Lease first"
            return False
        self._held = written
        self._observed = mine
        self._observed_at = time.monotonic()
        return True

    async def _release(self) -> None:
        """Give the Lease up if we hold it (best effort, within the renew deadline)."""
        held, self._held = self._held, None
        if held is None or self._observed is None or self._lock is None:
            return
        lock, released = self._lock, self._observed.released()
        deadline = time.monotonic() + self._timings.renew_deadline
        try:
            await self._call(lambda: lock.replace(released, held, _left(deadline)), deadline)
        except FAILURES as exc:
            log.warning("replica %s could not release the Lease (%s): the others take it once "
                        "it expires", self.identity, _failure(exc))  # fmt: skip
            return
        log.info("replica %s released the Lease", self.identity)

    def _lease_lock(self) -> LeaseLock:
        if self._lock is None:
            api = client.CoordinationV1Api(self._kube.new_api_client())
            self._lock = LeaseLock(api, self._namespace, self._timings.lease)
        return self._lock

    async def _call(self, call: Callable[[], Any], deadline: float) -> Any:
        """``call`` in a thread, waited for until ``deadline`` (its request times out too)."""
        future = asyncio.get_running_loop().run_in_executor(self._threads, call)
        async with asyncio.timeout(_left(deadline)):
            return await future


def _left(deadline: float) -> float:
    return max(0.001, min(REQUEST_TIMEOUT, deadline - time.monotonic()))


def _failure(exc: BaseException) -> str:
    if isinstance(exc, ApiException) and exc.status in (401, 403):
        return f"{exc.status} {exc.reason}: give the controller's identity get, create and " \
               "update on leases in its namespace (the Role litemaas-controller-lease)"  # fmt: skip
    if isinstance(exc, ApiException):
        return f"{exc.status} {exc.reason}"
    return f"{type(exc).__name__}: {str(exc)[:200]}"


def _ended(task: asyncio.Task[None]) -> str:
    exc = None if task.cancelled() else task.exception()
    if exc is None:
        return "the work it leads ended"
    log.error("the work this replica leads failed", exc_info=exc)
    return f"the work it leads failed: {type(exc).__name__}"
