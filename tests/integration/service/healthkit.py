"""An instance's health and its repair orders, read from the service's API until they settle."""

from __future__ import annotations

from typing import Any

from waiting import wait_for_async

from .servicekit import Service


async def health(service: Service, name: str, status: str, reason: str = "") -> dict[str, Any]:
    """Wait until the instance's health has ``status`` and its reason contains ``reason``."""

    async def probe() -> dict[str, Any] | None:
        found: dict[str, Any] = (await service.get(f"/api/v1/instances/{name}"))["health"]
        return found if found["status"] == status and reason in found["reason"] else None

    found: dict[str, Any] = await wait_for_async(probe, what=f"{name} {status} {reason!r}")
    return found


async def history(service: Service, name: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = (await service.get(f"/api/v1/instances/{name}/health"))["items"]
    return items


async def repairs(svc: Service, instance: str) -> list[dict[str, Any]]:
    items = (await svc.get(f"/api/v1/orders?instance={instance}"))["items"]
    return [o for o in reversed(items) if o["action"] == "repair"]


async def ended(svc: Service, instance: str, n: int) -> list[dict[str, Any]]:
    """The instance's repair orders once ``n`` of them exist and all have ended."""

    async def probe() -> list[dict[str, Any]] | None:
        found = await repairs(svc, instance)
        done = len(found) == n and all(o["status"] not in ("queued", "running") for o in found)
        return found if done else None

    result: list[dict[str, Any]] = await wait_for_async(probe, what=f"{n} ended repair(s)")
    return result
