"""Typed application state (``web.AppKey``): what the cleanup contexts build for the handlers."""

from __future__ import annotations

import asyncio

from aiohttp import web

from litemaas_controller.api.credentials import SecretReader
from litemaas_controller.api.metrics import Metrics
from litemaas_controller.cluster import KubeClient
from litemaas_controller.config import Settings
from litemaas_controller.dispatch import Dispatcher
from litemaas_controller.healing.policy import RepairPolicy
from litemaas_controller.intake import OrderIntake
from litemaas_controller.intake.leadership import Leadership
from litemaas_controller.intake.messages import RedisState
from litemaas_controller.ledger import Store
from litemaas_controller.role.order_vars import OrderVars
from litemaas_controller.runner.run import PlaybookRunner

SETTINGS = web.AppKey("settings", Settings)
ORDER_VARS = web.AppKey("order_vars", OrderVars)
STORE = web.AppKey("store", Store)
RUNNER = web.AppKey("runner", PlaybookRunner)
DISPATCHER = web.AppKey("dispatcher", Dispatcher)
INTAKE = web.AppKey("intake", OrderIntake)
POLICY = web.AppKey("policy", RepairPolicy)
METRICS = web.AppKey("metrics", Metrics)
KUBE = web.AppKey("kube", KubeClient)
SECRETS = web.AppKey("secrets", SecretReader)
#: present only when LITEMAAS_REDIS_URL is set: the message intake's view of Redis
REDIS = web.AppKey("redis", RedisState)
#: present only when the cluster watch runs: who leads it (docs/replicas.md)
LEADER = web.AppKey("leader", Leadership)
#: set when the server begins to shut down: long-lived streams end so the drain can proceed
STOPPING = web.AppKey("stopping", asyncio.Event)
