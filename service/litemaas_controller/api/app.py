"""The aiohttp application: routes, the problem middleware, and the life cycle in cleanup_ctx.

Start-up order: ledger → retention → runner and dispatch (recovery first) → healing → intake.
Shutdown runs in the documented reverse: the server stops listening (intake stops), streams are
told to end, repairs waiting out a back-off are dropped, then dispatch drains (runs get
``drain_grace`` seconds, then are cancelled and requeued), then retention stops and the ledger
closes.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator, Callable, Sequence
from functools import partial

from aiohttp import web

from litemaas_controller.api import (
    access,
    audit,
    contract,
    dead_letters,
    health,
    instance_health,
    instances,
    keys,
    messages,
    openapi,
    orders,
    problems,
    retention,
    runs,
)
from litemaas_controller.api.credentials import SecretReader
from litemaas_controller.api.metrics import Metrics
from litemaas_controller.cluster import EventWriter, KubeClient, NamespaceReader
from litemaas_controller.config import Settings
from litemaas_controller.config.paths import default_argument_specs, private_dir
from litemaas_controller.dispatch import Dispatcher
from litemaas_controller.dispatch.dispatcher import RunObserver
from litemaas_controller.healing.history import HistoryRecorder
from litemaas_controller.healing.policy import RepairPolicy
from litemaas_controller.intake import IntakeFactory, OrderIntake
from litemaas_controller.ledger import open_store
from litemaas_controller.role.order_vars import load_order_vars
from litemaas_controller.runner.env import proxy_urls
from litemaas_controller.runner.metrics import RunnerMetrics
from litemaas_controller.runner.redact import Redactor, proxy_credentials
from litemaas_controller.runner.run import PlaybookRunner

log = logging.getLogger(__name__)

CleanupCtx = Callable[[web.Application], AsyncIterator[None]]


async def _ledger(app: web.Application) -> AsyncIterator[None]:
    settings = app[keys.SETTINGS]
    private_dir(settings.state_dir)
    store = await open_store(
        settings.ledger_url, settings.ledger_path, settings.ledger_password_file
    )
    app[keys.STORE] = store
    yield
    await store.close()


def _redactor(settings: Settings) -> Redactor:
    secrets = [*settings.secret_values, *proxy_credentials(proxy_urls(os.environ))]
    return Redactor(secrets)


async def _dispatch(app: web.Application) -> AsyncIterator[None]:
    settings = app[keys.SETTINGS]
    store = app[keys.STORE]
    metrics = RunnerMetrics(app[keys.METRICS].registry)
    runner = PlaybookRunner(settings, store.ledger_id, _redactor(settings), metrics)
    observers: list[RunObserver] = [app[keys.METRICS].observe_run,
                                     app[keys.METRICS].repairs.observe_run]  # fmt: skip
    dispatcher = Dispatcher(store, runner, settings, observers=observers)
    app[keys.RUNNER] = runner
    app[keys.DISPATCHER] = dispatcher
    namespaces = NamespaceReader(app[keys.KUBE])
    app[keys.INTAKE] = OrderIntake(store, dispatcher, app[keys.ORDER_VARS], namespaces)
    await dispatcher.start()
    log.info("dispatch started: at most %d runs at once", settings.max_concurrent_runs)
    yield
    log.info("draining: runs in flight get %ss", settings.drain_grace)
    await dispatcher.drain(settings.drain_grace)
    await runner.close()


async def _healing(app: web.Application) -> AsyncIterator[None]:
    """The repair policy (docs/repair-policy.md); its repairs waiting out a back-off end first."""
    events = EventWriter(app[keys.KUBE])
    store = app[keys.STORE]
    policy = RepairPolicy(HistoryRecorder(store), store, app[keys.DISPATCHER], app[keys.SETTINGS],
                          events, app[keys.METRICS].repairs)  # fmt: skip
    app[keys.POLICY] = policy
    yield
    await policy.close()


def _intakes(factories: Sequence[IntakeFactory]) -> CleanupCtx:
    """Run every active intake as a supervised task; on shutdown they stop first."""

    async def ctx(app: web.Application) -> AsyncIterator[None]:
        tasks = []
        for make in factories:
            intake = make(app[keys.INTAKE])
            task = asyncio.create_task(intake.run(), name=f"intake:{intake.name}")
            task.add_done_callback(partial(_intake_ended, intake.name))
            tasks.append(task)
        yield
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    return ctx


def _intake_ended(name: str, task: asyncio.Task[None]) -> None:
    if task.cancelled():
        return
    exc = task.exception()
    log.error("intake %s ended unexpectedly; it takes no more events", name, exc_info=exc)


async def _on_shutdown(app: web.Application) -> None:
    app[keys.STOPPING].set()


def make_app(settings: Settings, intakes: Sequence[IntakeFactory] = ()) -> web.Application:
    """The service's application; nothing starts until the runner sets it up.

    ``intakes`` are the active sources of triggers besides HTTP orders (none yet: the Redis
    message intake and the cluster watch come in later issues).
    """
    app = web.Application(
        client_max_size=settings.max_body_bytes,
        middlewares=[
            problems.middleware(settings.max_body_bytes),
            access.middleware,
            contract.middleware,
        ],
    )
    app[keys.SETTINGS] = settings
    specs = settings.argument_specs or default_argument_specs(settings.playbook_dir)
    order_vars = load_order_vars(specs)
    log.info("order vars from %s (%d allowed)", order_vars.source, len(order_vars.allowed))
    app[keys.ORDER_VARS] = order_vars
    app[keys.METRICS] = Metrics()
    intakes = messages.wire(app, settings, intakes)
    app[keys.KUBE] = KubeClient(settings.kubeconfig)
    log.info("own namespace: %s", settings.namespace or "unset (LITEMAAS_NAMESPACE)")
    intakes = instance_health.wire(app, settings, intakes)
    app[keys.SECRETS] = SecretReader(app[keys.KUBE])
    app[keys.STOPPING] = asyncio.Event()
    app.cleanup_ctx.extend([_ledger, retention.ctx, _dispatch, _healing, _intakes(intakes)])
    app.on_startup.append(openapi.check)
    app.on_shutdown.append(_on_shutdown)
    for table in (
        orders.routes,
        runs.routes,
        instances.routes,
        instance_health.routes,
        audit.routes,
        health.routes,
        openapi.routes,
        messages.routes,
        dead_letters.routes,
    ):
        app.add_routes(table)
    return app
