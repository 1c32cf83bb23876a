"""The JSON shapes of the read side (records → dicts).  Nothing secret is in any record."""

from __future__ import annotations

import dataclasses
from typing import Any

from litemaas_controller.ledger import (
    EventRecord,
    InstanceRecord,
    OrderRecord,
    RunRecord,
)


def order(record: OrderRecord, runs: list[RunRecord] | None = None) -> dict[str, Any]:
    data = dataclasses.asdict(record)
    data.pop("body")
    data["links"] = {
        "self": f"/api/v1/orders/{record.id}",
        "events": f"/api/v1/orders/{record.id}/events",
    }
    if runs is not None:
        data["runs"] = [run(r) for r in runs]
    return data


def run(record: RunRecord) -> dict[str, Any]:
    data = dataclasses.asdict(record)
    data["links"] = {
        "self": f"/api/v1/runs/{record.id}",
        "events": f"/api/v1/runs/{record.id}/events",
        "cancel": f"/api/v1/runs/{record.id}/cancel",
    }
    return data


def event(record: EventRecord) -> dict[str, Any]:
    data = dataclasses.asdict(record)
    data.pop("run_id")
    return data


def instance(record: InstanceRecord) -> dict[str, Any]:
    data = dataclasses.asdict(record)
    data["links"] = {"credentials": f"/api/v1/instances/{record.name}/credentials"}
    return data
