"""From ansible-runner's event dicts to the ledger's redacted ``EventRecord`` and the results."""

from __future__ import annotations

import re
import time
from datetime import datetime
from typing import Any

from litemaas_controller.ledger import EventRecord
from litemaas_controller.runner.redact import Redactor

#: how a task ended on a host: one event each (the others are starts and headers)
ENDED = ("ok", "changed", "skipped", "failed", "failed (ignored)", "unreachable")
#: the endings that are failures
FAILED = ("failed", "unreachable")

STDOUT_LIMIT = 4000  # characters of one event's output kept in the ledger
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")

_STATUS = {
    "runner_on_ok": "ok",
    "runner_on_failed": "failed",
    "runner_on_unreachable": "unreachable",
    "runner_on_skipped": "skipped",
    "runner_item_on_failed": "failed",
    "runner_on_start": "started",
}


def _when(event: dict[str, Any]) -> float:
    created = event.get("created")
    if isinstance(created, str):
        try:
            return datetime.fromisoformat(created).timestamp()
        except ValueError:
            pass  # malformed timestamp from the callback: fall back to now
    return time.time()


def _status(event: dict[str, Any]) -> str | None:
    name = str(event.get("event", ""))
    status = _STATUS.get(name)
    data = event.get("event_data") or {}
    if status == "ok" and isinstance(data.get("res"), dict) and data["res"].get("changed"):
        return "changed"
    if status == "failed" and data.get("ignore_errors"):
        return "failed (ignored)"
    return status


def data_lost(event: dict[str, Any]) -> bool:
    """True when the display callback could not write the event's data (a full disk).

    Every event carries its name (``event``) in that data; ansible-runner's own ``verbose``
    events name themselves.
    """
    return "event" not in event


def to_record(run_id: str, event: dict[str, Any], redactor: Redactor) -> EventRecord | None:
    """The ledger's view of one event; None for events without a counter (nothing to order by)."""
    counter = event.get("counter")
    if not isinstance(counter, int):
        return None
    data = event.get("event_data") or {}
    stdout = _ANSI.sub("", str(event.get("stdout") or ""))[:STDOUT_LIMIT]
    task = data.get("task") or data.get("play") or None
    return EventRecord(
        run_id=run_id,
        seq=counter,
        at=_when(event),
        event=str(event.get("event", "")),
        task=redactor.text(str(task)) if task else None,
        host=str(data["host"]) if data.get("host") else None,
        status=_status(event),
        stdout=redactor.text(stdout),
    )


FAILURE_LIMIT = 600  # characters of a failed task's message kept as the run's reason


def failure(event: dict[str, Any]) -> str | None:
    """``<task>: <message>`` of a task that failed the run (not an ignored failure), else None.

    The caller redacts it; a ``no_log`` task's result is censored by Ansible already.
    """
    if event.get("event") not in ("runner_on_failed", "runner_on_unreachable"):
        return None
    data = event.get("event_data") or {}
    if data.get("ignore_errors"):
        return None
    res = data.get("res")
    res = res if isinstance(res, dict) else {}
    message = res.get("msg") or res.get("stderr") or res.get("censored") or "no message"
    text = f"{data.get('task') or 'a task'}: {' '.join(str(message).split())}"
    return text[:FAILURE_LIMIT]


def is_permanent_failure(event: dict[str, Any]) -> bool:
    """Whether the failed task's module said that no retry can fix it (``failure_kind``)."""
    res = (event.get("event_data") or {}).get("res")
    return isinstance(res, dict) and res.get("failure_kind") == "permanent"


def stats_results(event: dict[str, Any], key: str = "litemaas") -> dict[str, Any] | None:
    """The ``set_stats`` data named ``key`` from a ``playbook_on_stats`` event."""
    if event.get("event") != "playbook_on_stats":
        return None
    artifact = (event.get("event_data") or {}).get("artifact_data") or {}
    value = artifact.get(key)
    return value if isinstance(value, dict) else None
