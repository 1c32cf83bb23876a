"""An instance's health history as a picture: the geometry of a small SVG chart.

A band across the chart is coloured by the health the instance had at each moment; under it,
one mark per order at the time it arrived (repairs apart) and one per failure.  The template
``_history.html`` draws it; every label goes through the template's escaping.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from litemaas_controller.ledger import Action, HealthRecord, OrderRecord

WIDTH, HEIGHT, PAD = 640.0, 96.0, 8.0
BAND_Y, BAND_H, MARK_Y = 8.0, 36.0, 68.0


@dataclass(frozen=True)
class Band:
    x: float
    width: float
    status: str
    label: str


@dataclass(frozen=True)
class Mark:
    x: float
    kind: str  # order, repair, failure
    label: str


@dataclass(frozen=True)
class Chart:
    bands: list[Band]
    marks: list[Mark]
    start: float
    end: float


def stamp(at: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(at))


def draw(transitions: Sequence[HealthRecord], orders: Sequence[OrderRecord], now: float) -> Chart:
    """The chart of ``transitions`` (oldest first) and ``orders`` from the first of them to
    ``now``."""
    times = [t.at for t in transitions] + [o.received_at for o in orders]
    start = min(times, default=now)
    span = max(now - start, 1.0)

    def x(at: float) -> float:
        return round(PAD + (min(max(at, start), now) - start) / span * (WIDTH - 2 * PAD), 1)

    bands = []
    for i, t in enumerate(transitions):
        until = transitions[i + 1].at if i + 1 < len(transitions) else now
        label = f"{t.status} from {stamp(t.at)}: {t.reason}"
        bands.append(Band(x(t.at), max(x(until) - x(t.at), 1.0), t.status, label))
    marks = [
        Mark(x(o.received_at), "repair" if o.action == Action.REPAIR else "order",
             f"{o.action} order {o.id} at {stamp(o.received_at)}: {o.status}")
        for o in orders
    ]  # fmt: skip
    marks += [
        Mark(x(t.at), "failure", f"failed at {stamp(t.at)}: {t.reason}")
        for t in transitions
        if t.status == "failed"
    ]
    return Chart(bands, marks, start, now)
