"""ansible-runner events → the ledger's records and the deploy's results."""

from __future__ import annotations

import pytest

from litemaas_controller.runner.events import FAILURE_LIMIT, failure, stats_results, to_record
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


def test_the_first_failed_task_and_its_message_become_the_reason() -> None:
    def failed(task: str, res: dict[str, object], **data: object) -> dict[str, object]:
        return {"event": "runner_on_failed", "event_data": {"task": task, "res": res, **data}}

    assert failure(failed("Create the key", {"msg": "model nope\n  is not served"})) == (
        "Create the key: model nope is not served"
    )
    assert failure(failed("Probe", {"msg": "x"}, ignore_errors=True)) is None  # not the cause
    assert failure(failed("Run", {"stderr": "boom", "rc": 3})) == "Run: boom"
    hidden = {"censored": "the output has been hidden due to the fact that 'no_log: true'"}
    assert "hidden" in (failure(failed("Secret", hidden)) or "")
    assert failure({"event": "runner_on_ok", "event_data": {"res": {"msg": "x"}}}) is None
    assert len(failure(failed("Long", {"msg": "y" * 5000})) or "") == FAILURE_LIMIT
    # the run redacts it like every other text it keeps
    leaked = failure(failed("Call", {"msg": "refused: api_key=sk-canary-42 was wrong"})) or ""
    assert "sk-canary-42" not in Redactor([]).text(leaked)
