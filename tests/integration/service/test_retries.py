"""Retried messages: behind what arrived meanwhile, dropped when a newer message about the same
model already ran.

The orders enter as the message intake puts them in (``OrderIntake.accept`` with a message's
order, ``OrderIntake.retry`` on a redelivery); dispatch, the ledger and ansible-runner are real.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from litemaas_controller.api import keys
from litemaas_controller.intake import OrderIntake
from litemaas_controller.ledger import Action, NewOrder

from .msgkit import UPSERT, provision
from .servicekit import Service, ServiceFactory

pytestmark = pytest.mark.integration


def intake(svc: Service) -> OrderIntake:
    return svc.client.server.app[keys.INTAKE]  # type: ignore[union-attr]


async def message(svc: Service, mid: str, action: Action, body: dict[str, Any]) -> str:
    order = NewOrder(
        id=f"msg:{mid}", action=action, instance="demo", namespace=None, vars=body,
        body=json.dumps(body, sort_keys=True), source=f"redis:litemaas:changes/{mid}",
        principal="redis:litemaas-controller",
    )  # fmt: skip
    record, created = await intake(svc).accept(order)
    assert created
    return record.id


def starts(svc: Service) -> list[str]:
    """The models the fixture playbook started on, in order (``present:<name>``...)."""
    return [f[4] for f in svc.evidence.lines() if f[1] == "start" and ":" in f[-1]]


async def test_a_retry_goes_behind_newer_orders_and_is_dropped_once_its_model_changed_since(
    make_service: ServiceFactory,
) -> None:
    svc = await make_service("messages")
    await provision(svc, "demo")
    old = await message(svc, "m-old", Action.MODEL_UPSERT, {**UPSERT, "name": "fail-x"})
    assert (await svc.finished(old))["status"] == "failed"
    holder = await message(svc, "m-h", Action.MODEL_UPSERT, {**UPSERT, "name": "hold-h"})
    await svc.evidence.started(3)  # provision, fail-x, hold-h: the instance is busy
    other = await message(svc, "m-b", Action.MODEL_UPSERT, {**UPSERT, "name": "b"})
    newer = await message(svc, "m-new", Action.MODEL_DELETE, {"name": "fail-x"})
    # the old message is delivered again while both wait: it goes behind them
    assert (await intake(svc).retry(old, "delivered again")).status == "queued"
    svc.evidence.release()
    for oid in (holder, other):
        assert (await svc.finished(oid))["status"] == "succeeded"
    await svc.finished(newer)  # it ran (and failed, as fail-* does: its own message retries)
    final = await svc.finished(old)

    assert starts(svc) == ["present:fail-x", "present:hold-h", "present:b", "absent:fail-x"]
    assert final["status"] == "superseded"  # the stale upsert never ran again
    assert final["message"] == f"dropped: newer order {newer} about the same name has already run"
    assert len((await svc.get(f"/api/v1/orders/{old}"))["runs"]) == 1
