"""Helpers of the message tests: send messages, read the streams, provision an instance."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import redis

from .redisproc import RedisServer
from .servicekit import Service, ServiceFactory

STREAM = "litemaas:changes"
DEAD = "litemaas:changes:dead"
GROUP = "litemaas-controller"

UPSERT = {
    "name": "llama-3-8b",
    "api_base": "http://vllm.models.svc:8000/v1",
    "api_key_secret": {"name": "llama-creds", "key": "token"},
    "mode": "chat",
}


def send(
    r: redis.Redis, message_id: str, kind: str, instance: str, body: Any, **extra: str
) -> tuple[str, float]:
    """XADD a message; return its entry id and the wall-clock time just before the XADD."""
    text = body if isinstance(body, str) else json.dumps(body)
    fields = {"id": message_id, "type": kind, "instance": instance, "body": text, **extra}
    sent = time.time()
    return str(r.xadd(STREAM, fields)), sent  # type: ignore[arg-type]


def pending(r: redis.Redis) -> int:
    info: dict[str, Any] = r.xpending(STREAM, GROUP)  # type: ignore[assignment]
    return int(info["pending"])


def dead_letters(r: redis.Redis) -> list[dict[str, str]]:
    return [fields for _, fields in r.xrange(DEAD)]  # type: ignore[union-attr]


def received(evidence: Path) -> list[dict[str, Any]]:
    """What the fixture playbooks received, one record per run."""
    path = evidence.with_name(evidence.name + ".vars")
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


async def provision(svc: Service, instance: str) -> None:
    order = {"id": f"p-{instance}", "action": "provision", "instance": instance}
    assert (await svc.post_order(order)).status == 202
    assert (await svc.finished(order["id"]))["status"] == "succeeded"


async def order_of(svc: Service, message_id: str) -> dict[str, Any]:
    return dict(await svc.get(f"/api/v1/orders/msg:{message_id}"))


async def start(make_service: ServiceFactory, server: RedisServer, **overrides: Any) -> Service:
    """The in-process service on the ``messages`` project, consuming from ``server``."""
    settings = {"redis_url": server.url, "redis_consumer": "test", "redis_claim_idle": 1.0}
    return await make_service("messages", **{**settings, **overrides})
