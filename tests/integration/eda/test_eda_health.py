"""Failed instances through the real ansible-rulebook and rhpds.litemaas.instance_health.

The instances are stand-in objects labelled as the deploy role labels them (the sandbox's node
agent runs their pods as simulated workloads, with its injected faults); the repair playbook is
a stand-in that records what it was given: the real repair needs an instance the role deployed
(a deploy on the sandbox costs about a minute), and what is tested here is the rulebook's rule
and its throttle, not the repair (tests/e2e/test_healing_real.py covers that).
"""

from __future__ import annotations

import itertools
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sandbox import Sandbox
from waiting import wait_until

from .rulebook import REPO, Rulebook, collection_tree

pytestmark = pytest.mark.integration

STAND_IN = Path(__file__).parent / "collection" / "playbooks" / "repair_litemaas.yml"
LABELS = {"app.kubernetes.io/part-of": "litemaas",
          "app.kubernetes.io/managed-by": "litemaas-controller"}  # fmt: skip


def _create_instance(sandbox: Sandbox, instance: str) -> str:
    """The objects the health model requires of an instance, labelled as the role labels them."""
    kube, ns = sandbox.kube(), f"litemaas-{instance}"
    labels = {**LABELS, "litemaas.rhpds.io/instance": instance}
    kube.create("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                       "metadata": {"name": ns, "labels": labels}})  # fmt: skip
    meta = {"namespace": ns, "labels": labels}

    def workload(kind: str, name: str, **spec: Any) -> dict[str, Any]:
        pod = {"metadata": {"labels": {**labels, "app": name}},
               "spec": {"containers": [{"name": name, "image": f"{name}:stand-in"}]}}  # fmt: skip
        return {"apiVersion": "apps/v1", "kind": kind, "metadata": {**meta, "name": name},
                "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}},
                         "template": pod, **spec}}  # fmt: skip

    def core(plural: str, kind: str, name: str, **fields: Any) -> tuple[str, dict[str, Any]]:
        body = {"apiVersion": "v1", "kind": kind, "metadata": {**meta, "name": name}, **fields}
        return f"/api/v1/namespaces/{ns}/{plural}", body

    route = {"apiVersion": "route.openshift.io/v1", "kind": "Route",
             "metadata": {**meta, "name": "litellm"},
             "spec": {"to": {"kind": "Service", "name": "litellm"}}}  # fmt: skip
    objects = [
        core("secrets", "Secret", "litellm-secret"),
        core("secrets", "Secret", "postgres-secret"),
        core("services", "Service", "litellm", spec={"ports": [{"port": 4000}]}),
        core("services", "Service", "postgres", spec={"ports": [{"port": 5432}]}),
        (f"/apis/route.openshift.io/v1/namespaces/{ns}/routes", route),
        (f"/apis/apps/v1/namespaces/{ns}/statefulsets",
         workload("StatefulSet", "postgres", serviceName="postgres")),
        (f"/apis/apps/v1/namespaces/{ns}/deployments", workload("Deployment", "litellm")),
    ]  # fmt: skip
    for path, body in objects:
        kube.create(path, body)
    return ns


@pytest.fixture(scope="module")
def instances(sandbox_aws: Sandbox) -> Iterator[tuple[str, str]]:
    names = (f"eh-{uuid.uuid4().hex[:8]}", f"eh-{uuid.uuid4().hex[:8]}")
    try:
        yield names[0], names[1]
    finally:
        for name in names:
            sandbox_aws.kube().delete(f"/api/v1/namespaces/litemaas-{name}")


def _events(book: Rulebook, instance: str) -> list[tuple[str, str]]:
    """The (status, reason) of each health event the source sent for the instance, in order."""
    said = f" - INFO - instance {instance} in litemaas-{instance} is "
    return [
        tuple(line.split(said, 1)[1].split(": ", 1))  # type: ignore[misc]
        for line in book.output().splitlines()
        if said in line
    ]


def _said(book: Rulebook, instance: str, status: str) -> int:
    return [s for s, _ in _events(book, instance)].count(status)


def _repairs(evidence: Path, instance: str) -> list[dict[str, Any]]:
    """The stand-in repair's runs for the instance, with what each was given."""
    lines = evidence.read_text().splitlines() if evidence.exists() else []
    return [r for r in map(json.loads, lines) if r["instance"] == instance]


def test_a_crash_loop_triggers_one_repair_within_the_throttle_window(
    sandbox_aws: Sandbox, instances: tuple[str, str], tmp_path: Path
) -> None:
    first, second = instances
    for name in instances:
        _create_instance(sandbox_aws, name)
    evidence = tmp_path / "evidence"
    collections = collection_tree(tmp_path / "collections", {"repair_litemaas.yml": STAND_IN})
    book = Rulebook(
        tmp_path / "rulebook", collections, str(REPO / "rulebooks" / "litemaas.yml"),
        REPO / "rulebooks" / "inventory.yml",
        {**sandbox_aws.env(), "LITEMAAS_TEST_EVIDENCE": str(evidence)},
        "redis://127.0.0.1:1/0", health_grace=2,
    )  # fmt: skip
    book.argv.append("-v")  # the source's events, as it logs them
    try:
        book.start()
        for name in instances:
            wait_until(lambda n=name: _said(book, n, "healthy") == 1, 60, f"{name} healthy")

        sandbox_aws.set_fault("deployment", f"litemaas-{first}", "litellm", "crashloop")
        wait_until(lambda: _repairs(evidence, first), 60, "the repair of the crash loop")
        # the stand-in repairs nothing: the fault goes, the instance is healthy, then fails again
        sandbox_aws.clear_fault("deployment", f"litemaas-{first}", "litellm")
        wait_until(lambda: _said(book, first, "healthy") == 2, 60, f"{first} healthy again")
        sandbox_aws.set_fault("deployment", f"litemaas-{first}", "litellm", "crashloop")
        wait_until(lambda: _events(book, first)[-1][0] == "failed", 60, f"{first} failed again")
        # the ruleset runs its actions in the order of its events: once the other instance's
        # crash loop is repaired, a second repair of the first would have run before it
        sandbox_aws.set_fault("deployment", f"litemaas-{second}", "litellm", "crashloop")
        wait_until(lambda: _repairs(evidence, second), 60, "the repair of the other instance")
    finally:
        book.stop()
    out = book.output()
    assert len(_repairs(evidence, first)) == 1, out[-3000:]
    assert len(_repairs(evidence, second)) == 1
    [repair] = _repairs(evidence, first)
    assert repair["namespace"] == f"litemaas-{first}"
    assert repair["managed_by"] == "litemaas-controller"
    assert repair["event"]["status"] == "failed"
    assert "crash-looping" in repair["event"]["reason"]
    # the pod restarted again and again (each restart several pod events); the source sent one
    # event per change of health, and the throttle held every failure after the first
    pods = sandbox_aws.kube().list(
        f"/api/v1/namespaces/litemaas-{first}/pods?labelSelector=app%3Dlitellm"
    )["items"]
    restarts = sum(c.get("restartCount", 0) for p in pods
                   for c in p["status"].get("containerStatuses") or [])  # fmt: skip
    events = _events(book, first)
    assert restarts >= 2 and _said(book, first, "failed") >= 2, events
    assert all(a != b for a, b in itertools.pairwise(events)), events
