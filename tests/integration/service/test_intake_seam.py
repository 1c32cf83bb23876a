"""The intake seam: an active intake submits through the same OrderIntake as HTTP orders."""

from __future__ import annotations

import asyncio
import json

import pytest

from litemaas_controller.intake import OrderIntake
from waiting import wait_for_async

from .credentials import BEARER
from .servicekit import ServiceFactory

pytestmark = pytest.mark.integration


class OneShotIntake:
    """Submits one order, then waits for events that never come (until cancelled)."""

    name = "one-shot"

    def __init__(self, orders: OrderIntake) -> None:
        self._orders = orders

    async def run(self) -> None:
        body = json.dumps({"id": "from-intake", "action": "provision", "instance": "seam"})
        await self._orders.submit(body.encode(), principal="one-shot", source="test:one-shot")
        await asyncio.Event().wait()


async def test_an_active_intake_feeds_the_same_ledger_and_dispatch(
    make_service: ServiceFactory,
) -> None:
    svc = await make_service("quick", intakes=[OneShotIntake])

    async def accepted() -> bool:
        response = await svc.client.get("/api/v1/orders/from-intake", headers=BEARER)
        return response.status == 200

    await wait_for_async(accepted, what="the intake's order in the ledger")
    final = await svc.finished("from-intake")
    assert final["status"] == "succeeded"
    assert (final["source"], final["principal"]) == ("test:one-shot", "one-shot")
