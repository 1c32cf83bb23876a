"""Instance health: the ``health`` of ``GET /api/v1/instances/{name}``, its history, its stream.

Also where the cluster watch is wired (unless ``LITEMAAS_HEALING=off``): it feeds the sink chain
of the mode (``healing.chain.sink_chain``), once the repair policy exists, and runs only while this
replica leads (``intake.leadership``; docs/replicas.md).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from typing import Any

from aiohttp import web

from litemaas_controller.api import keys, paging
from litemaas_controller.api.contract import promises
from litemaas_controller.api.stream import FOLLOWING, Sse, after_seq, follows, last_seq
from litemaas_controller.config import Settings
from litemaas_controller.config.healing import HealingMode
from litemaas_controller.errors import NotFoundError
from litemaas_controller.healing.chain import sink_chain
from litemaas_controller.healing.health import HealthModel
from litemaas_controller.intake import IntakeFactory, OrderIntake
from litemaas_controller.intake.leadership import LeaderMetrics, leadership, led
from litemaas_controller.intake.watch import ClusterWatch, LedgerInstances, WatchMetrics
from litemaas_controller.ledger import HealthRecord

log = logging.getLogger(__name__)

routes = web.RouteTableDef()

HEALTH = paging.Listing("health", paging.SEQ)

#: what ``health`` says before the watch has judged the instance
UNKNOWN = {"status": "unknown", "reason": "not observed yet", "since": None}


def wire(
    app: web.Application, settings: Settings, intakes: Sequence[IntakeFactory]
) -> list[IntakeFactory]:
    """``intakes`` plus the cluster watch, while this replica leads, when there is a cluster to
    watch and ``LITEMAAS_HEALING`` is not ``off``."""
    if not (settings.kubeconfig or os.environ.get("KUBERNETES_SERVICE_HOST")):
        log.info("no cluster configured (KUBECONFIG): the cluster watch is off")
        return list(intakes)
    mode = HealingMode(settings.healing)
    if mode == HealingMode.OFF:
        log.info("LITEMAAS_HEALING=off: the cluster watch is off")
        return list(intakes)
    metrics = WatchMetrics(app[keys.METRICS].registry)

    def make(_: OrderIntake) -> ClusterWatch:
        store = app[keys.STORE]
        model = HealthModel(sink_chain(mode, app[keys.POLICY]), settings.health_grace)
        return ClusterWatch(settings, app[keys.KUBE], LedgerInstances(store), model, metrics)

    async def lost() -> None:
        await app[keys.POLICY].close()  # its repairs waiting out a back-off are the leader's

    leader = leadership(settings, app[keys.KUBE], LeaderMetrics(app[keys.METRICS].registry))
    app[keys.LEADER] = leader
    return [*intakes, led(ClusterWatch.name, leader, make, lost)]


def view(record: HealthRecord | None) -> dict[str, Any]:
    """The instance's current health (a dict the repair policy's fields join)."""
    if record is None:
        return dict(UNKNOWN)
    return {"status": record.status, "reason": record.reason, "since": record.since}


async def current(app: web.Application, name: str) -> dict[str, Any]:
    """The instance's ``health``: its status, reason and since, with the repair budget."""
    health = view(await app[keys.STORE].health.get(name))
    health.update(await app[keys.POLICY].budget(name))
    return health


def transition(record: HealthRecord) -> dict[str, Any]:
    return {"seq": record.seq, "at": record.at, **view(record)}


@routes.get("/api/v1/instances/{name}/health")
@promises(
    "Health transitions, oldest first (?follow=1: server-sent events, resumed from "
    "Last-Event-ID)",
    {"200": "transitions", "400": "bad after, cursor, limit or Last-Event-ID",
     "404": "no such instance"},
    "TransitionPage",
    (*HEALTH.params, *FOLLOWING),
    streams=True,
)  # fmt: skip
async def health_history(request: web.Request) -> web.StreamResponse:
    """The transitions, oldest first, from ``after`` (paged by ``limit``); ``?follow=1``
    streams them (server-sent events ``health``) as they happen."""
    store = request.app[keys.STORE]
    name = request.match_info["name"]
    if await store.instances.get(name) is None:
        raise NotFoundError(f"instance {name} does not exist")
    after = after_seq(request)
    limit = HEALTH.limit(request)
    if not follows(request):
        after = max(after, HEALTH.seq(request) or 0)
        records = await store.health.history(name, after, limit + 1)
        return web.json_response(HEALTH.page(records, transition, lambda r: r.seq, limit))
    after = max(after, last_seq(request) or 0)
    sse = Sse(request)
    await sse.open()
    try:
        while True:
            records = await store.health.history(name, after, limit)
            for record in records:
                await sse.send("health", transition(record), str(record.seq))
                after = record.seq
            if not records and not await sse.idle(store):
                break
    finally:
        await sse.close()
    return sse.response
