"""``/api/v1/instances``: instances with their recorded vars, status and results; credentials;
a person's repair."""

from __future__ import annotations

import re

from aiohttp import web

from litemaas_controller.api import access, instance_health, keys, paging, views
from litemaas_controller.api.contract import promises
from litemaas_controller.errors import (
    ClusterRefusedError,
    ConflictError,
    InvalidError,
    NotFoundError,
)
from litemaas_controller.intake.schema import INSTANCE_PATTERN
from litemaas_controller.ledger import InstanceStatus

routes = web.RouteTableDef()

INSTANCES = paging.Listing("instances", paging.NAME)

#: what a catalog hands the person who ordered (as 0.1.2 did): the admin login, not the master key
ADMIN_KEYS = {"username": "UI_USERNAME", "password": "UI_PASSWORD"}
#: an instance being or already destroyed has no credentials to serve
GONE = frozenset({InstanceStatus.DESTROYING, InstanceStatus.DESTROYED})


@routes.get("/api/v1/instances")
@promises("List instances (by name)", {"200": "instances"}, "InstancePage", INSTANCES.params)
async def list_instances(request: web.Request) -> web.Response:
    size = INSTANCES.limit(request)
    after = INSTANCES.cursor(request)
    records = await request.app[keys.STORE].instances.list(
        after=after[0] if after else "", limit=size + 1
    )
    return web.json_response(INSTANCES.page(records, views.instance, lambda r: r.name, size))


@routes.get("/api/v1/instances/{name}")
@promises(
    "An instance with its health and repair budget",
    {"200": "instance", "404": "no such instance"},
    "InstanceWithHealth",
)
async def get_instance(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    store = request.app[keys.STORE]
    record = await store.instances.get(name)
    if record is None:
        raise NotFoundError(f"instance {name} does not exist")
    health = await instance_health.current(request.app, name)
    return web.json_response({**views.instance(record), "health": health})


@routes.post("/api/v1/instances/{name}/repair")
@promises(
    "Ask for a repair (docs/repair-policy.md): the budget starts again",
    {"200": "a repair already queued or running", "202": "the new repair order",
     "404": "no such instance", "409": "destroyed, not deployed, or another order runs",
     "422": "not an instance name"},
    "Order",
)  # fmt: skip
async def repair_instance(request: web.Request) -> web.Response:
    """A person asks for a repair (docs/repair-policy.md): 202 with the new repair order, 200
    with the one already queued or running."""
    principal = request[access.PRINCIPAL]
    name = request.match_info["name"]
    if not re.search(INSTANCE_PATTERN, name):
        raise InvalidError("not an instance name (a DNS-1123 label of at most 40 characters)")
    source = f"http:{request.remote or 'unknown'}"
    order, created = await request.app[keys.POLICY].request(name, principal, source)
    response = web.json_response(views.order(order), status=202 if created else 200)
    response.headers["Location"] = f"/api/v1/orders/{order.id}"
    return response


@routes.get("/api/v1/instances/{name}/credentials")
@promises(
    "Admin credentials, read from the instance's Secret when asked (never stored)",
    {"200": "credentials", "404": "no instance or Secret", "409": "not deployed yet",
     "502": "the cluster failed (Retry-After), refused, or the Secret is broken (what to fix)",
     "503": "unavailable now (Retry-After)"},
    "Credentials",
)  # fmt: skip
async def get_credentials(request: web.Request) -> web.Response:
    principal = request[access.PRINCIPAL]
    name = request.match_info["name"]
    store = request.app[keys.STORE]
    record = await store.instances.get(name)
    if record is None:
        raise NotFoundError(f"instance {name} does not exist")
    if record.status in GONE:
        # its namespace may hold another instance by now: never read a Secret there for it
        raise ConflictError(
            f"instance {name} is {record.status}; its credentials are gone with it",
            details={"instance": name},
        )
    secret_name = (record.results or {}).get("credentials_secret")
    if not secret_name:
        raise ConflictError(
            f"instance {name} has no credentials yet (status {record.status}); "
            "wait for its provision order to succeed"
        )
    data = await request.app[keys.SECRETS].read(record.namespace, str(secret_name))
    missing = [k for k in ADMIN_KEYS.values() if k not in data]
    if missing:
        raise ClusterRefusedError(
            f"Secret {record.namespace}/{secret_name} lacks {missing}; run an update order "
            "to repair the instance"
        )
    await store.audit.append(principal, "credentials.read", name, f"http:{request.remote}",
                             {"secret": secret_name})  # fmt: skip
    results = record.results or {}
    body = {
        "instance": name,
        "namespace": record.namespace,
        "secret": secret_name,
        "admin_url": results.get("admin_url"),
        "api_url": results.get("api_url"),
        **{field: data[key] for field, key in ADMIN_KEYS.items()},
    }
    response = web.json_response(body)
    response.headers["Cache-Control"] = "no-store"
    return response
