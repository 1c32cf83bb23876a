"""Order intake over HTTP: every refusal gets the right answer and leaves the ledger unchanged."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from litemaas_controller.intake.auth import signed_headers

from .credentials import BEARER, SECRET
from .orderkit import ORDER
from .servicekit import Service, ServiceFactory, problem

pytestmark = pytest.mark.integration


async def test_new_order_is_accepted_and_runs_to_success(service: Service) -> None:
    response = await service.post_order(ORDER)
    assert response.status == 202
    record = await response.json()
    assert record["status"] == "queued" and record["namespace"] == "litemaas-demo"
    assert response.headers["Location"] == "/api/v1/orders/ord-1"
    final = await service.finished("ord-1")
    assert final["status"] == "succeeded"
    assert final["results"]["admin_url"] == "https://litellm-litemaas-demo.apps.example.test"
    assert final["results"]["version"] == "0.2.0"


async def test_duplicate_order_returns_current_record_and_runs_nothing(service: Service) -> None:
    assert (await service.post_order(ORDER)).status == 202
    await service.finished("ord-1")
    # same body spelled differently (key order, spacing): the same order
    respelled = json.dumps(dict(reversed(list(ORDER.items()))), indent=4).encode()
    again = await service.post_order(respelled, auth="bearer")
    assert again.status == 200
    assert (await again.json())["status"] == "succeeded"
    runs = (await service.get("/api/v1/runs"))["items"]
    assert len(runs) == 1


async def test_same_id_with_another_body_is_a_conflict(service: Service) -> None:
    assert (await service.post_order(ORDER)).status == 202
    await service.finished("ord-1")
    before = service.ledger()
    other = {**ORDER, "vars": {"ocp4_workload_litemaas_version": "0.3.0"}}
    body = await problem(await service.post_order(other), 409)
    assert "another body" in body["detail"]
    assert service.ledger() == before


async def test_signed_replay_inside_the_window_is_a_duplicate(service: Service) -> None:
    body = json.dumps(ORDER).encode()
    sent_at = time.time() - 120
    first = await service.post_order(body, now=sent_at)
    assert first.status == 202
    await service.finished("ord-1")
    replay = await service.post_order(body, now=sent_at)  # byte-identical request
    assert replay.status == 200
    assert len((await service.get("/api/v1/runs"))["items"]) == 1


async def test_signed_replay_outside_the_window_is_refused(service: Service) -> None:
    body = json.dumps(ORDER).encode()
    assert (await service.post_order(body)).status == 202
    await service.finished("ord-1")
    before = service.ledger()
    stale = await problem(await service.post_order(body, now=time.time() - 301), 401)
    assert "window" in stale["detail"]
    future = await problem(await service.post_order(body, now=time.time() + 301), 401)
    assert "window" in future["detail"]
    assert service.ledger() == before


@pytest.mark.parametrize(
    ("headers", "fragment"),
    [
        ({"X-Litemaas-Signature": "sha256=" + "0" * 64}, "does not match"),
        ({"X-Litemaas-Signature": "md5=abc"}, "sha256="),
        ({"X-Litemaas-Timestamp": "yesterday"}, "integer"),
    ],
)
async def test_bad_signatures_are_refused(
    service: Service, headers: dict[str, str], fragment: str
) -> None:
    before = service.ledger()
    body = await problem(await service.post_order(ORDER, headers=headers), 401)
    assert fragment in body["detail"]
    assert service.ledger() == before


async def test_signature_over_other_bytes_is_refused(service: Service) -> None:
    """The HMAC covers the raw bytes: re-encoding the same JSON breaks it."""
    signed = json.dumps(ORDER).encode()
    headers = {**signed_headers(SECRET, signed, time.time()), "Content-Type": "application/json"}
    sent = json.dumps(ORDER, indent=2).encode()
    before = service.ledger()
    response = await service.client.post("/api/v1/orders", data=sent, headers=headers)
    await problem(response, 401)
    assert service.ledger() == before


async def test_missing_or_wrong_credentials_are_refused(service: Service) -> None:
    before = service.ledger()
    await problem(await service.post_order(ORDER, auth="none"), 401)
    wrong = {"Authorization": "Bearer not-the-token-at-all"}
    await problem(await service.post_order(ORDER, auth="none", headers=wrong), 401)
    assert service.ledger() == before


async def test_malformed_oversized_and_wrong_type_bodies(service: Service) -> None:
    before = service.ledger()
    await problem(await service.post_order(b"{not json", auth="bearer"), 400)
    await problem(await service.post_order(b"[1, 2]", auth="bearer"), 400)
    await problem(await service.post_order(b"\xff\xfe", auth="bearer"), 400)
    huge = {**ORDER, "vars": {"ocp4_workload_litemaas_version": "x" * 70000}}
    too_large = await problem(await service.post_order(huge), 413)
    assert "65536" in too_large["detail"]
    as_text = await service.post_order(ORDER, headers={"Content-Type": "text/plain"})
    await problem(as_text, 415)
    assert service.ledger() == before


@pytest.mark.parametrize(
    ("patch", "fragment"),
    [
        ({"action": "explode"}, "action"),
        ({"instance": "Not_A_DNS_Label"}, "instance"),
        ({"instance": "x" * 41}, "instance"),
        ({"id": ""}, "id"),
        ({"colour": "blue"}, "colour"),
        ({"vars": {"ocp4_workload_litemaas_deploy_backend": "yes"}}, "boolean"),
    ],
)
async def test_orders_that_break_the_schema_get_422(
    service: Service, patch: dict[str, Any], fragment: str
) -> None:
    before = service.ledger()
    body = await problem(await service.post_order({**ORDER, **patch}), 422)
    assert fragment in body["detail"]
    assert service.ledger() == before


async def test_unknown_and_secret_vars_are_refused_with_the_allowed_list(service: Service) -> None:
    before = service.ledger()
    canary = "pg-canary-5d1e9b7c3a"
    bad = {
        **ORDER,
        "vars": {
            "ocp4_workload_litemaas_postgres_password": canary,
            "ocp4_workload_litemaas_namespace": "elsewhere",
            "rm_rf": True,
        },
    }
    response = await service.post_order(bad)
    text = await response.text()
    body = await problem(response, 422)
    assert canary not in text
    assert set(body["refused"]) == {
        "ocp4_workload_litemaas_postgres_password",
        "ocp4_workload_litemaas_namespace",
        "rm_rf",
    }
    assert "ocp4_workload_litemaas_version" in body["allowed"]
    assert "ocp4_workload_litemaas_postgres_password" not in body["allowed"]
    assert "secret" in body["detail"]
    assert service.ledger() == before


async def test_update_of_an_unknown_instance_is_a_conflict(service: Service) -> None:
    before = service.ledger()
    body = await problem(await service.post_order({**ORDER, "action": "update"}), 409)
    assert "provision order first" in body["detail"]
    assert service.ledger() == before


async def test_read_side_needs_the_bearer_token(service: Service) -> None:
    for path in ("/api/v1/orders", "/api/v1/runs", "/api/v1/instances", "/api/v1/orders/x"):
        await problem(await service.client.get(path), 401)
    for path in ("/healthz", "/readyz", "/metrics", "/api/v1/openapi.json"):
        assert (await service.client.get(path)).status == 200
    await problem(await service.client.get("/api/v1/orders/nope", headers=BEARER), 404)
    await problem(await service.client.get("/api/v1/nothing-here", headers=BEARER), 404)


async def test_published_schema_and_openapi_agree(service: Service) -> None:
    schema = await (await service.client.get("/api/v1/schemas/order.json")).json()
    doc = await (await service.client.get("/api/v1/openapi.json")).json()
    assert doc["components"]["schemas"]["OrderRequest"]["properties"] == schema["properties"]
    assert "/api/v1/runs/{id}/cancel" in doc["paths"]
    allowed = set(schema["properties"]["vars"]["properties"])
    assert "ocp4_workload_litemaas_version" in allowed
    assert not any("password" in name for name in allowed)


async def test_credentials_need_a_deployed_instance_and_a_cluster(
    make_service: ServiceFactory,
) -> None:
    service = await make_service("hold")
    path = "/api/v1/instances/demo/credentials"
    await problem(await service.client.get(path), 401)
    await problem(await service.client.get(path, headers=BEARER), 404)
    assert (await service.post_order(ORDER)).status == 202
    await service.evidence.started(1)
    early = await problem(await service.client.get(path, headers=BEARER), 409)
    assert "no credentials yet" in early["detail"]
    service.evidence.release()
    await service.finished("ord-1")
    # this service has no cluster configuration (no KUBECONFIG, not in a pod): 502 says so
    body = await problem(await service.client.get(path, headers=BEARER), 502)
    assert "KUBECONFIG" in body["detail"]
