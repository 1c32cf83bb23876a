"""The cluster watch: an active intake that follows the managed instances' objects.

Each kind is one ``ListWatch`` in a thread of its own (the ``kubernetes`` client is synchronous);
the threads hand what they see to the event loop through a queue, and the loop alone touches the
cache, the ledger and the health model.  Level-triggered: an instance is judged on the current
state of all its objects, never on an event's diff, so a missed event costs latency only (the
resync relists).  Events for one instance within ``BATCH`` make one judgement.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Sequence
from typing import Any, Protocol

from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import HTTPError

from litemaas_controller.cluster import KubeClient
from litemaas_controller.cluster.kinds import cluster_wide, exposure_kind, secrets_in, serves_routes
from litemaas_controller.cluster.listwatch import Hooks, ListWatch, Target, backoff
from litemaas_controller.config import Settings
from litemaas_controller.errors import LedgerWriteError
from litemaas_controller.healing.assess import Moment, assess
from litemaas_controller.healing.health import HealthModel
from litemaas_controller.intake.ownership import INSTANCE_LABEL, MANAGED_BY
from litemaas_controller.intake.watch.cache import ObjectCache
from litemaas_controller.ledger import InstanceRecord, InstanceStatus, RunRecord, Store
from litemaas_controller.role.order_vars import CONTROLLER

log = logging.getLogger(__name__)

#: what the deploy role labels every object of the controller's instances with
SELECTOR = f"{MANAGED_BY}={CONTROLLER},{INSTANCE_LABEL}"
LEDGER_POLL = 30.0  # the ledger is looked at again at least this often
COALESCE = 0.2  # ledger writes closer together than this make one look
#: an instance is judged this long after the first event that concerns it, on everything that
#: came meanwhile: streams of different kinds arrive out of step (a Deployment's ready count
#: before the Pod that explains it)
BATCH = 0.3
JOIN = 5.0  # seconds shutdown waits for the stream threads
LEDGER_RETRY = 5.0  # seconds before the watch reads a ledger it could not reach again
LEDGER = ("ledger",)


class Instances(Protocol):
    """What the watch reads of the ledger (a ``Store``): which instances to judge, and which
    have a run queued or going.  The EDA source reads the cluster's labels instead."""

    async def list_instances(self) -> Sequence[InstanceRecord]: ...

    async def instances_with_queued_orders(self) -> Sequence[str]: ...

    async def unfinished_runs(self) -> Sequence[RunRecord]: ...

    async def wait_changed(self, timeout: float) -> bool: ...


class LedgerInstances:
    """``Instances`` read from the ledger's gateways."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def list_instances(self) -> Sequence[InstanceRecord]:
        return await self._store.instances.list()

    async def instances_with_queued_orders(self) -> Sequence[str]:
        return await self._store.orders.instances_with_queued()

    async def unfinished_runs(self) -> Sequence[RunRecord]:
        return await self._store.runs.unfinished()

    async def wait_changed(self, timeout: float) -> bool:
        return await self._store.wait_changed(timeout)


class ClusterWatch:
    """``Intake``: judges instances' health (a ``HealthModel``) from what the cluster shows."""

    name = "cluster-watch"

    def __init__(
        self,
        settings: Settings,
        kube: KubeClient,
        store: Instances,
        model: HealthModel,
        hooks: Hooks,
    ) -> None:
        self._settings = settings
        self._kube = kube
        self._store = store
        self._model = model
        self._hooks = hooks
        self._queue: asyncio.Queue[tuple[Any, ...]] = asyncio.Queue()
        self._cache = ObjectCache()
        self._streams: dict[str, tuple[ListWatch, threading.Thread]] = {}
        self._listed: set[str] = set()
        self._known: dict[str, str] = {}  # instance -> namespace, from the ledger
        self._busy: set[str] = set()
        self._due: dict[str, float] = {}
        self._exposure = "Ingress"
        self._api_client: Any = None

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        self._api_client = await asyncio.to_thread(self._kube.new_api_client, 64)
        routes = await self._discover()
        self._exposure = exposure_kind(routes)
        for kind, target in cluster_wide(self._api_client, SELECTOR, routes).items():
            self._start(loop, kind, target)
        ledger = asyncio.create_task(self._ledger_changes(), name="cluster-watch:ledger")
        log.info("cluster watch started (%s as exposure)", self._exposure)
        try:
            await self._judge_forever()
        finally:
            ledger.cancel()
            await asyncio.gather(ledger, return_exceptions=True)
            await self._stop(list(self._streams))

    async def _discover(self) -> bool:
        failures = 0
        while True:
            try:
                return await asyncio.to_thread(serves_routes, self._api_client)
            except (ApiException, HTTPError, OSError) as exc:
                failures += 1
                log.warning("cluster watch: API discovery failed (%s); trying again", exc)
                await asyncio.sleep(backoff(failures))

    # --- the threads' side ----------------------------------------------------------------------
    def _start(self, loop: asyncio.AbstractEventLoop, kind: str, target: Target) -> None:
        def post(*item: Any) -> None:
            if not loop.is_closed():
                loop.call_soon_threadsafe(self._queue.put_nowait, item)

        stream = ListWatch(
            target,
            on_list=lambda items: post("list", target.name, kind, items),
            on_event=lambda event, obj: post("event", target.name, kind, event, obj),
            hooks=self._hooks,
            resync=self._settings.resync_period,
        )
        thread = threading.Thread(target=stream.run, name=f"watch:{target.name}", daemon=True)
        self._streams[target.name] = (stream, thread)
        thread.start()

    async def _stop(self, names: Sequence[str]) -> None:
        stopping = [self._streams.pop(name) for name in names]
        for stream, _ in stopping:
            stream.stop()
        deadline = time.monotonic() + JOIN
        for stream, thread in stopping:
            while thread.is_alive() and time.monotonic() < deadline:
                stream.stop()  # again: a stream opened since the first stop is closed now
                await asyncio.to_thread(thread.join, 0.2)
            if thread.is_alive():
                log.warning("watch thread %s did not stop in time", thread.name)

    async def _ledger_changes(self) -> None:
        while True:
            self._queue.put_nowait(LEDGER)
            await self._store.wait_changed(LEDGER_POLL)
            await asyncio.sleep(COALESCE)

    # --- the loop's side ------------------------------------------------------------------------
    async def _judge_forever(self) -> None:
        while True:
            items = [await self._next()]
            while not self._queue.empty():
                items.append(self._queue.get_nowait())
            touched = {instance for item in items for instance in self._take(item)}
            try:
                await self._judge_due(touched, LEDGER in items)
            except LedgerWriteError as exc:  # the ledger (PostgreSQL) is away: look again later
                log.warning("the watch cannot read or write the ledger (%s); again in %.0f s",
                            exc, LEDGER_RETRY)  # fmt: skip
                asyncio.get_running_loop().call_later(LEDGER_RETRY, self._queue.put_nowait, LEDGER)

    async def _judge_due(self, touched: set[str], ledger_changed: bool) -> None:
        """Judge the instances whose batch is due; after a ledger change, every known one."""
        if ledger_changed:
            await self._refresh()
            touched |= set(self._known)
        now = time.time()
        for instance in touched:
            self._due[instance] = min(self._due.get(instance, now + BATCH), now + BATCH)
        for instance in sorted(i for i, at in self._due.items() if at <= now):
            await self._judge(instance)

    async def _next(self) -> tuple[Any, ...]:
        wait = min(self._due.values(), default=None)
        try:
            async with asyncio.timeout(None if wait is None else max(0.0, wait - time.time())):
                return await self._queue.get()
        except TimeoutError:
            return ("due",)

    def _take(self, item: tuple[Any, ...]) -> set[str]:
        """Apply a stream's list or event to the cache; the instances it concerns."""
        if item[0] == "list":
            _, stream, kind, objs = item
            self._listed.add(stream)
            owners = self._cache.replace(stream, kind, objs)
        elif item[0] == "event":
            _, stream, kind, event, obj = item
            owners = self._cache.apply(stream, kind, event, obj)
        else:
            return set()
        return {
            instance for namespace, instance in owners if self._known.get(instance) == namespace
        }

    async def _refresh(self) -> None:
        """Which instances the ledger knows and which have a run in flight; a Secret stream for
        each managed namespace (and none for a namespace no longer managed)."""
        instances = await self._store.list_instances()
        known = {i.name: i.namespace for i in instances if i.status != InstanceStatus.DESTROYED}
        for instance in set(self._known) - set(known):
            self._due.pop(instance, None)
            self._model.forget(instance)
        self._known = known
        queued = await self._store.instances_with_queued_orders()
        self._busy = set(queued) | {r.instance for r in await self._store.unfinished_runs()}
        wanted = {f"Secret/{namespace}": namespace for namespace in known.values()}
        loop = asyncio.get_running_loop()
        for name, namespace in wanted.items():
            if name not in self._streams:
                self._start(loop, "Secret", secrets_in(self._api_client, namespace, SELECTOR))
        gone = [n for n in self._streams if n.startswith("Secret/") and n not in wanted]
        for name in gone:
            self._cache.drop(name)
            self._listed.discard(name)
        await self._stop(gone)

    def _ready(self, namespace: str) -> bool:
        """Every stream that can hold the instance's objects has listed once."""
        needed = {n for n in self._streams if "/" not in n} | {f"Secret/{namespace}"}
        return needed <= self._listed

    async def _judge(self, instance: str) -> None:
        self._due.pop(instance, None)
        namespace = self._known.get(instance)
        if namespace is None or not self._ready(namespace):
            return  # judged once its streams have listed (that touches it)
        objects = self._cache.objects(namespace, instance)
        moment = Moment(time.time(), self._settings.health_grace)
        verdict = assess(objects, self._exposure, instance in self._busy, moment)
        due = await self._model.judge(instance, verdict)
        if due is not None:
            self._due[instance] = due
