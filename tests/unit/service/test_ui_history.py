"""The health history picture: bands of health over time, marks for orders, repairs, failures;
its labels go through the template's escaping."""

from __future__ import annotations

from pathlib import Path

import jinja2
import pytest

from litemaas_controller.ledger import Action, HealthRecord, OrderRecord, OrderStatus
from litemaas_controller.ui import history

pytestmark = pytest.mark.unit

TEMPLATES = Path(history.__file__).parent / "templates"


def _health(seq: int, status: str, at: float, reason: str = "r") -> HealthRecord:
    return HealthRecord(seq, "web", status, reason, at, at)


def _order(oid: str, action: Action, at: float) -> OrderRecord:
    return OrderRecord(oid, action, "web", "ns", {}, OrderStatus.SUCCEEDED, "http", "bearer",
                       at, at, body="{}")  # fmt: skip


def test_the_bands_follow_the_health_and_the_marks_the_orders_repairs_and_failures() -> None:
    transitions = [
        _health(1, "healthy", 100),
        _health(2, "failed", 200),
        _health(3, "healthy", 300),
    ]
    orders = [_order("p", Action.PROVISION, 50), _order("r", Action.REPAIR, 210)]
    chart = history.draw(transitions, orders, now=450)
    assert [b.status for b in chart.bands] == ["healthy", "failed", "healthy"]
    # the chart spans the first order to now: each band as wide as its share of the time
    assert chart.start == 50 and chart.end == 450
    widths = [b.width for b in chart.bands]
    assert widths[0] == pytest.approx(widths[1], abs=0.2) and widths[2] > widths[1]
    assert [b.x for b in chart.bands] == sorted(b.x for b in chart.bands)
    kinds = sorted(m.kind for m in chart.marks)
    assert kinds == ["failure", "order", "repair"]
    repair = next(m for m in chart.marks if m.kind == "repair")
    failure = next(m for m in chart.marks if m.kind == "failure")
    assert chart.bands[1].x == failure.x < repair.x < chart.bands[2].x


def test_an_instance_never_observed_draws_an_empty_chart() -> None:
    chart = history.draw([], [], now=10)
    assert chart.bands == [] and chart.marks == [] and chart.start == chart.end == 10


def test_markup_in_a_reason_or_an_order_is_text_in_the_picture() -> None:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True)
    env.filters["stamp"] = history.stamp
    hostile = '</title><script>alert(1)</script><a href="javascript:x">'
    chart = history.draw([_health(1, "failed", 100, reason=hostile)], [], now=200)
    svg = env.get_template("_history.html").render(chart=chart, record=_Named(hostile))
    assert "<script>" not in svg and 'href="javascript' not in svg
    assert "&lt;/title&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in svg
    assert 'data-status="failed"' in svg and 'data-kind="failure"' in svg


class _Named:
    def __init__(self, name: str) -> None:
        self.name = name
