"""``rhpds.litemaas.instance_health``: the service's cluster watch and health model as events.

The watch is the service's own (``intake.watch.ClusterWatch``: list, then watch from the list's
resourceVersion, relist on 410 and every ``resync_period``, level-triggered), and so is the
health model (``healing.assess``, ``healing.health.HealthModel``: a failure counts once it has
lasted ``grace``).  Two things differ, for want of a ledger:

- which instances are judged: every namespace that carries the labels the deploy role puts on
  the namespaces it creates (``app.kubernetes.io/managed-by: litemaas-controller`` and
  ``litemaas.rhpds.io/instance: <instance>``), with names that match the service's patterns;
- no instance counts as busy (the source cannot see runs in flight).

Each change of an instance's health (status or reason) is one event, never the objects' churn:
a crash loop that restarts a pod a hundred times is one ``failed`` event.  After a reconnect the
relist catches what the stream missed, and the model's memory keeps what was already sent.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import threading
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from kubernetes import client
from prometheus_client import CollectorRegistry

from litemaas_controller.cluster import KubeClient
from litemaas_controller.cluster.listwatch import ListWatch, Target
from litemaas_controller.config import Settings
from litemaas_controller.dispatch.plans import order_extravars
from litemaas_controller.eda.args import Args
from litemaas_controller.errors import ClusterError
from litemaas_controller.healing.health import HealthModel
from litemaas_controller.healing.model import Health
from litemaas_controller.intake.ownership import INSTANCE_LABEL
from litemaas_controller.intake.schema import INSTANCE_PATTERN, NAMESPACE_PATTERN
from litemaas_controller.intake.watch import SELECTOR, ClusterWatch, WatchMetrics
from litemaas_controller.ledger import Action, InstanceRecord, InstanceStatus, RunRecord

log = logging.getLogger(__name__)

ARGS = {"kubeconfig", "grace", "resync_period"}
RETRY = 30.0  # seconds between two tries when there is no cluster configuration
JOIN = 5.0


def health_event(instance: str, namespace: str, health: Health) -> dict[str, Any]:
    """The event of one health change, with the variables the service would pass to a repair
    (no recorded vars: the role's defaults fill the rest)."""
    return {
        "instance": instance,
        "namespace": namespace,
        "status": health.status.value,
        "reason": health.reason,
        "since": health.since,
        "extravars": order_extravars(Action.REPAIR, instance, namespace, {}, {}),
    }


def _labelled(obj: Mapping[str, Any]) -> tuple[str, str] | None:
    """(namespace, instance) of a labelled namespace whose names the service would accept."""
    meta = obj.get("metadata") or {}
    namespace, instance = meta.get("name"), (meta.get("labels") or {}).get(INSTANCE_LABEL)
    if not isinstance(namespace, str) or not re.search(NAMESPACE_PATTERN, namespace):
        return None
    if not isinstance(instance, str) or not re.search(INSTANCE_PATTERN, instance):
        log.warning("namespace %s: its instance label is not an instance name; ignored", namespace)
        return None
    return namespace, instance


class LabelledInstances:
    """``Instances`` of the watch, from the cluster's labelled namespaces instead of a ledger.

    Fed from the namespace stream's thread through the event loop (``listed``, ``changed``)."""

    def __init__(self) -> None:
        self._instances: dict[str, str] = {}  # namespace -> instance
        self._changed = asyncio.Event()

    def listed(self, items: Sequence[Mapping[str, Any]]) -> None:
        self._instances = dict(filter(None, map(_labelled, items)))
        self._changed.set()

    def changed(self, event: str, obj: Mapping[str, Any]) -> None:
        name = (obj.get("metadata") or {}).get("name")
        self._instances.pop(str(name), None)
        found = _labelled(obj)
        if found is not None and event != "DELETED":
            self._instances[found[0]] = found[1]
        self._changed.set()

    def namespace_of(self, instance: str) -> str | None:
        """The instance's namespace; of two claiming one instance, the first by name."""
        return min((ns for ns, i in self._instances.items() if i == instance), default=None)

    async def list_instances(self) -> Sequence[InstanceRecord]:
        names = sorted(set(self._instances.values()))
        return [
            InstanceRecord(name, namespace, InstanceStatus.READY, {}, None, None, 0.0)
            for name in names
            if (namespace := self.namespace_of(name)) is not None
        ]

    async def instances_with_queued_orders(self) -> Sequence[str]:
        return []

    async def unfinished_runs(self) -> Sequence[RunRecord]:
        return []

    async def wait_changed(self, timeout: float) -> bool:
        try:
            async with asyncio.timeout(timeout):
                await self._changed.wait()
        except TimeoutError:
            return False
        self._changed.clear()
        return True

    @asynccontextmanager
    async def following(self, api_client: Any, settings: Settings) -> AsyncIterator[None]:
        """Follow the labelled namespaces (list, then watch) while the context lasts."""
        loop = asyncio.get_running_loop()

        def post(call: Any, *item: Any) -> None:
            if not loop.is_closed():
                loop.call_soon_threadsafe(call, *item)

        target = Target("Namespace", client.CoreV1Api(api_client).list_namespace, SELECTOR)
        stream = ListWatch(
            target,
            on_list=lambda items: post(self.listed, items),
            on_event=lambda event, obj: post(self.changed, event, obj),
            hooks=WatchMetrics(CollectorRegistry()),
            resync=settings.resync_period,
        )
        thread = threading.Thread(target=stream.run, name="watch:Namespace", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stream.stop()
            await asyncio.to_thread(thread.join, JOIN)


class HealthEvents:
    """``HealthSink``: each health change the model reports → one event on the queue."""

    def __init__(self, queue: asyncio.Queue[Any], instances: LabelledInstances) -> None:
        self._queue = queue
        self._instances = instances

    async def observed(self, instance: str, health: Health) -> None:
        namespace = self._instances.namespace_of(instance)
        if namespace is None:
            return  # its namespace went since it was judged
        await self._queue.put(health_event(instance, namespace, health))
        log.info("instance %s in %s is %s: %s", instance, namespace, health.status, health.reason)


class HealthSource:
    def __init__(self, queue: asyncio.Queue[Any], settings: Settings) -> None:
        self._settings = settings
        self._instances = LabelledInstances()
        self._model = HealthModel(HealthEvents(queue, self._instances), settings.health_grace)

    async def run(self) -> None:
        kube = KubeClient(self._settings.kubeconfig)
        while True:
            try:
                api_client = await asyncio.to_thread(kube.new_api_client)
            except ClusterError as exc:  # the other rulesets go on; say so until it is fixed
                log.error("instance_health: %s; trying again in %.0f s", exc, RETRY)
                await asyncio.sleep(RETRY)
                continue
            watch = ClusterWatch(
                self._settings, kube, self._instances, self._model,
                WatchMetrics(CollectorRegistry()),
            )  # fmt: skip
            async with self._instances.following(api_client, self._settings):
                await watch.run()


def from_args(queue: asyncio.Queue[Any], args: dict[str, Any]) -> HealthSource:
    """The source, from its arguments (checked here; nothing connects yet)."""
    a = Args("rhpds.litemaas.instance_health", args, ARGS)
    defaults = Settings()
    kubeconfig = a.path("kubeconfig") or _env_path("KUBECONFIG")
    if kubeconfig is not None and not kubeconfig.is_file():
        a.fail(f"kubeconfig {kubeconfig} is not a file")
    settings = Settings(
        kubeconfig=None if kubeconfig is None else str(kubeconfig),
        health_grace=a.number("grace", defaults.health_grace, 0.0, 86400.0),
        resync_period=a.number("resync_period", defaults.resync_period, 10.0, 86400.0),
    )
    return HealthSource(queue, settings)


def _env_path(name: str) -> Path | None:
    value = os.environ.get(name)
    return Path(value) if value else None


async def serve(queue: asyncio.Queue[Any], args: dict[str, Any]) -> None:
    """Watch until cancelled (ansible-rulebook cancels its sources when it stops)."""
    await from_args(queue, args).run()
