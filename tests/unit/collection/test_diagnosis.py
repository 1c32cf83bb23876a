"""The readiness report of rhpds.litemaas (plugins/filter/diagnosis.py): what the deploy says
when an instance does not become ready."""

from __future__ import annotations

from typing import Any

import pytest

import filterplugins

pytestmark = pytest.mark.unit

F = filterplugins.load("diagnosis")

KINDS = ("StatefulSet", "Deployment", "Job", "Pod", "Event")


def _results(**resources: list[Any]) -> list[dict[str, Any]]:
    """What k8s_info registers in diagnose.yml's loop over the kinds."""
    return [{"item": {"kind": k}, "resources": resources.get(k, [])} for k in KINDS]


def _workload(kind: str, name: str, ready: int, replicas: int = 1) -> dict[str, Any]:
    return {
        "kind": kind,
        "metadata": {"name": name, "generation": 2},
        "spec": {"replicas": replicas},
        "status": {"readyReplicas": ready, "observedGeneration": 2},
    }


def _event(name: str, at: str, reason: str, kind: str = "Warning") -> dict[str, Any]:
    return {
        "type": kind,
        "metadata": {"creationTimestamp": at},
        "involvedObject": {"kind": "Pod", "name": name},
        "reason": reason,
        "message": f"{reason} happened",
    }


def test_lists_each_object_that_is_not_ready_and_why() -> None:
    pod = {
        "metadata": {"name": "frontend-abc"},
        "status": {
            "phase": "Running",
            "initContainerStatuses": [
                {"name": "init", "state": {"terminated": {"reason": "Error", "exitCode": 3}}}
            ],
            "containerStatuses": [
                {"name": "app", "state": {"waiting": {"reason": "CrashLoopBackOff"}}},
                {"name": "proxy", "ready": False, "state": {"running": {}}},
                {"name": "done", "ready": True, "state": {"running": {}}},
            ],
            "conditions": [
                {
                    "type": "Ready",
                    "status": "False",
                    "reason": "ContainersNotReady",
                    "message": "x",
                },
                {"type": "PodScheduled", "status": "True", "reason": "Ignored"},
                {"type": "Initialized", "status": "False"},
            ],
        },
    }
    report = F.readiness_report(
        _results(
            StatefulSet=[_workload("StatefulSet", "postgres", 1)],
            Deployment=[_workload("Deployment", "frontend", 0), _workload("Deployment", "x", 1, 2)],
            Job=[
                {"metadata": {"name": "db"}, "status": {"failed": 2}},
                {"metadata": {"name": "ok"}, "status": {"succeeded": 1}},
            ],
            Pod=[pod, {"metadata": {"name": "fine"}, "status": {"phase": "Running"}}],
            Event=[
                _event("b", "2026-01-01T00:00:02Z", "BackOff"),
                _event("a", "2026-01-01T00:00:01Z", "Failed"),
                _event("c", "2026-01-01T00:00:00Z", "Scheduled", kind="Normal"),
            ],
        ),
        "ns1",
        "Timed out",
    )
    assert report.split("\n") == [
        "LiteMaaS in namespace ns1 is not ready: Timed out",
        "Deployment/frontend not ready: 0/1 replicas ready",
        "Deployment/x not ready: 1/2 replicas ready",
        "Job/db not complete: 2 failed attempts",
        "Pod frontend-abc (Running): init terminated: Error exit 3; "
        "app waiting: CrashLoopBackOff ; proxy running but not ready (readiness probe failing); "
        "Ready: ContainersNotReady x",
        "Event Pod/a: Failed Failed happened",
        "Event Pod/b: BackOff BackOff happened",
    ]


def test_a_workload_whose_new_generation_is_not_observed_yet_is_not_ready() -> None:
    stale = _workload("Deployment", "litellm", 1)
    stale["metadata"]["generation"] = 3
    report = F.readiness_report(_results(Deployment=[stale]), "ns", "failed")
    assert report.endswith("\nDeployment/litellm not ready: 1/1 replicas ready")


def test_only_the_latest_ten_warnings_are_listed() -> None:
    events = [_event(f"p{i:02}", f"2026-01-01T00:00:{i:02}Z", "BackOff") for i in range(15)]
    lines = F.readiness_report(_results(Event=events[::-1]), "ns", "failed").split("\n")[1:]
    assert [line.split(":")[0] for line in lines] == [f"Event Pod/p{i:02}" for i in range(5, 15)]


@pytest.mark.parametrize(
    "results",
    [
        None,
        [],
        "not a list",
        [{"item": {"kind": "Pod"}}, {"resources": [{}]}, "junk", {"item": "junk", "resources": 1}],
        _results(
            StatefulSet=[{}, {"status": None, "spec": {"replicas": "many"}}],
            Deployment=[{"kind": "Deployment", "metadata": {"name": "d"}, "status": "bad"}],
            Job=[{}, {"status": {"failed": None}}],
            Pod=[
                {},
                {"status": "bad"},
                {"status": {"containerStatuses": "bad", "conditions": [1]}},
            ],
            Event=[{"type": "Warning"}, {"type": "Warning", "metadata": {"creationTimestamp": 5}}],
        ),
    ],
)
def test_malformed_objects_are_described_never_a_crash(results: Any) -> None:
    report = F.readiness_report(results, "ns", "failed")
    assert report.startswith("LiteMaaS in namespace ns is not ready: failed")


def test_objects_missing_fields_are_described_with_placeholders() -> None:
    pod = {
        "status": {
            "containerStatuses": [
                {"state": {"waiting": {}}},
                {"state": {"terminated": {"exitCode": 1}}},
            ]
        }
    }
    report = F.readiness_report(
        _results(Deployment=[{}], Job=[{}], Pod=[pod], Event=[{"type": "Warning"}]), "ns", "failed"
    )
    assert report.split("\n")[1:] == [
        "Deployment/? not ready: 0/1 replicas ready",
        "Job/? not complete: 0 failed attempts",
        "Pod ? (?): ? waiting: ? ; ? terminated: ? exit 1",
        "Event ?/?: ? ",
    ]


MARKUP = "{{ lookup('pipe', 'id') }} {% raw %}<b>{# x #}</b>"


def test_reasons_and_messages_stay_literal_text() -> None:
    pod = {
        "metadata": {"name": MARKUP},
        "status": {
            "containerStatuses": [
                {"name": MARKUP, "state": {"waiting": {"reason": MARKUP, "message": MARKUP}}}
            ]
        },
    }
    event = {**_event(MARKUP, "2026-01-01T00:00:00Z", MARKUP), "message": MARKUP}
    report = F.readiness_report(_results(Pod=[pod], Event=[event]), MARKUP, MARKUP)
    assert report.split("\n") == [
        f"LiteMaaS in namespace {MARKUP} is not ready: {MARKUP}",
        f"Pod {MARKUP} (?): {MARKUP} waiting: {MARKUP} {MARKUP}",
        f"Event Pod/{MARKUP}: {MARKUP} {MARKUP}",
    ]
