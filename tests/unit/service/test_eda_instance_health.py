"""rhpds.litemaas.instance_health's own parts: its arguments, the labelled instances it judges,
and that it emits one event per health change, not per verdict."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from litemaas_controller.dispatch.plans import order_extravars
from litemaas_controller.eda.instance_health import HealthEvents, LabelledInstances, from_args
from litemaas_controller.errors import ConfigError
from litemaas_controller.healing.assess import MAX_REASON, Moment, Verdict, assess
from litemaas_controller.healing.health import HealthModel
from litemaas_controller.healing.model import HealthStatus
from litemaas_controller.ledger import Action

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        ({"grace": -1}, "grace must be a number from 0 to 86400"),
        ({"grace": "soon"}, "grace must be a number"),
        ({"resync_period": 1}, "resync_period must be a number from 10"),
        ({"kubeconfig": "/nonexistent/kubeconfig"}, "is not a file"),
        ({"graze": 5}, "unknown arguments ['graze']"),
    ],
)
def test_the_health_source_refuses_wrong_arguments_at_start(
    args: dict[str, Any], problem: str
) -> None:
    with pytest.raises(ConfigError, match=problem.replace("[", r"\[")):
        from_args(asyncio.Queue(), args)


def test_rendered_rulebook_values_are_read_as_numbers(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text("{}")
    from_args(asyncio.Queue(), {"grace": "2.5", "resync_period": "600",
                                "kubeconfig": str(kubeconfig)})  # fmt: skip


def _namespace(name: str, instance: str) -> dict[str, Any]:
    labels = {"app.kubernetes.io/managed-by": "litemaas-controller",
              "litemaas.rhpds.io/instance": instance}  # fmt: skip
    return {"metadata": {"name": name, "labels": labels}}


async def test_only_namespaces_with_valid_instance_names_are_judged() -> None:
    instances = LabelledInstances()
    instances.listed([
        _namespace("litemaas-demo", "demo"),
        _namespace("litemaas-evil", "{{ lookup('pipe', 'id') }}"),
        _namespace("litemaas-long", "x" * 41),
    ])  # fmt: skip
    assert [(i.name, i.namespace) for i in await instances.list_instances()] == [
        ("demo", "litemaas-demo")
    ]
    instances.changed("DELETED", _namespace("litemaas-demo", "demo"))
    assert await instances.list_instances() == []


async def test_one_event_per_health_change_not_per_verdict() -> None:
    queue: asyncio.Queue[Any] = asyncio.Queue()
    instances = LabelledInstances()
    instances.listed([_namespace("litemaas-demo", "demo")])
    clock = [1000.0]
    model = HealthModel(HealthEvents(queue, instances), grace=5.0, clock=lambda: clock[0])
    crash = Verdict(HealthStatus.FAILED, "Pod litellm-1: container litellm is crash-looping")
    await model.judge("demo", Verdict(HealthStatus.HEALTHY))
    for step in range(20):  # a crash loop's pod events: the same verdict, again and again
        clock[0] = 1001.0 + step
        await model.judge("demo", crash)
    await model.judge("demo", Verdict(HealthStatus.HEALTHY))
    events = [queue.get_nowait() for _ in range(queue.qsize())]
    assert [e["status"] for e in events] == ["healthy", "failed", "healthy"]
    failed = events[1]
    assert failed["reason"] == crash.reason and failed["since"] == 1001.0  # when it began
    assert (failed["instance"], failed["namespace"]) == ("demo", "litemaas-demo")
    assert failed["extravars"] == order_extravars(Action.REPAIR, "demo", "litemaas-demo", {}, {})


async def test_hostile_cluster_text_reaches_the_event_bounded_and_as_plain_text() -> None:
    queue: asyncio.Queue[Any] = asyncio.Queue()
    instances = LabelledInstances()
    instances.listed([_namespace("litemaas-demo", "demo")])
    model = HealthModel(HealthEvents(queue, instances), grace=0.0)
    hostile = "{{ lookup('pipe', 'id') }}\n\x1b[31m" * 50
    pod = {"metadata": {"name": "litellm-1"}, "status": {"phase": "Pending", "containerStatuses": [
        {"name": "litellm", "state": {"waiting": {"reason": "CreateContainerConfigError",
                                                  "message": hostile}}}]}}  # fmt: skip
    verdict = assess({("Pod", "litellm-1"): pod}, "Route", busy=False, moment=Moment(0.0, 60.0))
    await model.judge("demo", verdict)
    [event] = [queue.get_nowait() for _ in range(queue.qsize())]
    assert event["status"] == "failed" and len(event["reason"]) <= MAX_REASON
    assert event["reason"].isprintable() and "{{ lookup('pipe', 'id') }}" in event["reason"]
