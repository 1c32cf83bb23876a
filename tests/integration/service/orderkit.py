"""Orders as the service tests send them."""

from __future__ import annotations

from typing import Any

from .servicekit import Service

ORDER = {
    "id": "ord-1",
    "action": "provision",
    "instance": "demo",
    "vars": {"ocp4_workload_litemaas_version": "0.2.0"},
}


def managed(instance: str) -> dict[str, str]:
    """The labels the deploy puts on a namespace it creates for an instance of the controller."""
    return {"app.kubernetes.io/managed-by": "litemaas-controller",
            "litemaas.rhpds.io/instance": instance}  # fmt: skip


def order(oid: str, action: str, instance: str = "demo", **extra: Any) -> dict[str, Any]:
    return {"id": oid, "action": action, "instance": instance, **extra}


async def submitted(service: Service, body: dict[str, Any]) -> dict[str, Any]:
    response = await service.post_order(body)
    assert response.status == 202, await response.text()
    record: dict[str, Any] = await response.json()
    return record


async def accepted(service: Service, body: dict[str, Any]) -> dict[str, Any]:
    await submitted(service, body)
    return await service.finished(body["id"])
