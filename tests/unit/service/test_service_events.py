"""ansible-runner events → the ledger's records and the deploy's results."""

from __future__ import annotations

import pytest

from litemaas_controller.runner.events import stats_results, to_record
from litemaas_controller.runner.redact import Redactor

pytestmark = pytest.mark.unit


def test_task_events_become_redacted_records() -> None:
    event = {
        "event": "runner_on_ok",
        "counter": 7,
        "created": "2026-01-01T00:00:00+00:00",
        "stdout": "\x1b[0;33mchanged: [localhost] password=abc\x1b[0m",
        "event_data": {"task": "Create", "host": "localhost", "res": {"changed": True}},
    }
    record = to_record("run-1", event, Redactor([]))
    assert record is not None
    assert (record.seq, record.task, record.host, record.status) == (
        7,
        "Create",
        "localhost",
        "changed",
    )
    assert "abc" not in record.stdout and "\x1b" not in record.stdout
    assert to_record("run-1", {"event": "verbose"}, Redactor([])) is None


def test_results_come_from_the_final_stats() -> None:
    stats = {
        "event": "playbook_on_stats",
        "event_data": {"artifact_data": {"litemaas": {"instance": "demo"}}},
    }
    assert stats_results(stats) == {"instance": "demo"}
    assert stats_results({"event": "playbook_on_stats", "event_data": {}}) is None
    assert stats_results({"event": "runner_on_ok"}) is None
