"""The EDA sources' own parts: arguments, the ids memory, the webhook handler, the events."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import pytest

from litemaas_controller.dispatch.plans import order_extravars
from litemaas_controller.eda import change_stream, order_webhook
from litemaas_controller.eda.seen import SeenIds
from litemaas_controller.errors import ConfigError
from litemaas_controller.intake.auth import signed_headers
from litemaas_controller.ledger import Action

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[3]
SPECS = REPO / "roles/ocp4_workload_litemaas/meta/argument_specs.yml"
SECRET = "eda-unit-secret"


def test_seen_ids_are_refused_inside_the_window_and_kept_in_the_state_file(
    tmp_path: Path,
) -> None:
    state = tmp_path / "seen.json"
    seen = SeenIds(60, state)
    seen.add("o1", "d1", now=1000)
    assert seen.get("o1", now=1059) == "d1"
    assert seen.get("o1", now=1061) is None
    assert SeenIds(60, state).get("o1", now=1030) == "d1"  # a restart reads the file
    seen.add("o2", "d2", now=2000)  # expired ids are dropped when the file is written
    assert set(json.loads(state.read_text())) == {"o2"}


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        ({"port": 5000}, "give webhook_secret"),
        ({"webhook_secret": "x"}, "port is required"),
        ({"webhook_secret": "x", "port": 5000, "dedupe_window": 10}, "at least signature_window"),
        ({"webhook_secret": "x", "port": 5000, "tokne": "y"}, "unknown arguments ['tokne']"),
        ({"webhook_secret": "x", "port": "http"}, "port must be an integer"),
    ],
)
def test_the_webhook_refuses_wrong_arguments_at_start(args: dict[str, Any], problem: str) -> None:
    with pytest.raises(ConfigError, match=problem.replace("[", r"\[")):
        order_webhook.from_args(asyncio.Queue(), args, SPECS)


def test_rendered_rulebook_values_are_read_as_their_types() -> None:
    # ansible-rulebook renders "{{ X | default('') }}": an empty string means not given
    _, host, port = order_webhook.from_args(
        asyncio.Queue(), {"webhook_secret": "x", "api_token": "", "port": "5000"}, SPECS
    )
    assert (host, port) == ("0.0.0.0", 5000)  # noqa: S104


def test_the_change_source_needs_a_redis_url() -> None:
    with pytest.raises(ConfigError, match="url is required"):
        change_stream.from_args(asyncio.Queue(), {"group": "g"})


def test_an_order_event_carries_the_services_extra_vars() -> None:
    doc = {"id": "o1", "action": "update", "instance": "demo",
           "vars": {"ocp4_workload_litemaas_wait_timeout": 60}}  # fmt: skip
    event = order_webhook.order_event(doc, "hmac")
    assert event["order"] == {"id": "o1", "action": "update", "instance": "demo",
                              "namespace": "litemaas-demo", "principal": "hmac"}  # fmt: skip
    assert event["extravars"] == order_extravars(
        Action.UPDATE, "demo", "litemaas-demo", doc["vars"], {}
    )
    assert event["extravars"]["ACTION"] == "provision"


async def test_the_webhook_queues_accepted_orders_only(aiohttp_client: Any) -> None:
    queue: asyncio.Queue[Any] = asyncio.Queue()
    hook, _, _ = order_webhook.from_args(queue, {"webhook_secret": SECRET, "port": 1}, SPECS)
    client = await aiohttp_client(hook.app())

    async def post(order: dict[str, Any], secret: str = SECRET) -> int:
        body = json.dumps(order).encode()
        headers = {**signed_headers(secret, body, time.time()), "Content-Type": "application/json"}
        response = await client.post(order_webhook.PATH, data=body, headers=headers)
        return int(response.status)

    order = {"id": "o1", "action": "provision", "instance": "demo"}
    assert await post(order, secret="wrong") == 401
    assert await post({**order, "vars": {"ocp4_workload_litemaas_litellm_tag": "{{ 1 }}"}}) == 422
    assert await post({**order, "instance": "Demo\n"}) == 422  # whole-string names
    assert await post({**order, "vars": {"ocp4_workload_litemaas_namespace": "x"}}) == 422
    assert await post(order) == 202
    assert await post(order) == 200  # the same order again: nothing runs again
    assert await post({**order, "action": "destroy"}) == 409
    big = await client.post(order_webhook.PATH, data=b"{" + b" " * 70000 + b"}",
                            headers={"Content-Type": "application/json"})  # fmt: skip
    assert big.status == 413
    assert queue.qsize() == 1
    assert (await queue.get())["order"]["id"] == "o1"
