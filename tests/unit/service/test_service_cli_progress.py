"""The CLI's live output of a followed order says how each task ended."""

from __future__ import annotations

import io

import pytest

from litemaas_controller.cli.commands import _progress

pytestmark = pytest.mark.unit


def _lines(*events: dict[str, object]) -> list[str]:
    out = io.StringIO()
    for event in events:
        _progress("event", event, out)
    return out.getvalue().splitlines()


def test_a_skipped_task_reads_as_skipped_not_as_run() -> None:
    lines = _lines(
        {"event": "playbook_on_task_start", "task": "Remove LiteMaaS", "status": None},
        {"event": "runner_on_skipped", "task": "Remove LiteMaaS", "status": "skipped"},
    )
    assert lines == ["  TASK Remove LiteMaaS: skipped"]


@pytest.mark.parametrize("status", ["ok", "changed", "failed (ignored)"])
def test_each_ending_is_named(status: str) -> None:
    assert _lines({"task": "Apply", "host": "localhost", "status": status}) == [
        f"  TASK Apply: {status}"
    ]


def test_a_failed_task_names_the_host_and_its_output() -> None:
    event = {"task": "Wait", "host": "localhost", "status": "failed", "stdout": "timed out"}
    assert _lines(event) == ["  TASK Wait: failed on localhost timed out"]


def test_a_started_event_prints_nothing() -> None:
    assert _lines({"event": "runner_on_start", "task": "Apply", "status": "started"}) == []
