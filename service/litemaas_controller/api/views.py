"""The JSON shapes of the read side (records → dicts).  Nothing secret is in any record."""

from __future__ import annotations

import dataclasses
from typing import Any

from litemaas_controller.ledger import (
    DeadLetterRecord,
    EventRecord,
    InstanceRecord,
    OrderRecord,
    RunRecord,
)


def _fields(record: Any) -> dict[str, Any]:
    """A record's fields, one level deep: ``dataclasses.asdict`` would recurse through every
    var's nesting (and copy it) on the way to the JSON encoder."""
    return {f.name: getattr(record, f.name) for f in dataclasses.fields(record)}


def order(record: OrderRecord, runs: list[RunRecord] | None = None) -> dict[str, Any]:
    data = _fields(record)
    data.pop("body")
    data["links"] = {
        "self": f"/api/v1/orders/{record.id}",
        "events": f"/api/v1/orders/{record.id}/events",
    }
    if runs is not None:
        data["runs"] = [run(r) for r in runs]
    return data


def run(record: RunRecord) -> dict[str, Any]:
    data = _fields(record)
    data["links"] = {
        "self": f"/api/v1/runs/{record.id}",
        "events": f"/api/v1/runs/{record.id}/events",
        "cancel": f"/api/v1/runs/{record.id}/cancel",
    }
    return data


def event(record: EventRecord) -> dict[str, Any]:
    data = _fields(record)
    data.pop("run_id")
    return data


def dead_letter(record: DeadLetterRecord) -> dict[str, Any]:
    return _fields(record)


def instance(record: InstanceRecord) -> dict[str, Any]:
    data = _fields(record)
    data["links"] = {"credentials": f"/api/v1/instances/{record.name}/credentials"}
    return data
