"""Every list pages: ``limit`` items and ``next``; following ``next`` gets each item once."""

from __future__ import annotations

from typing import Any

import pytest

from .credentials import BEARER
from .servicekit import Service, ServiceFactory

pytestmark = pytest.mark.integration


async def _walk(svc: Service, path: str, limit: int) -> tuple[list[Any], int]:
    """Every item of ``path`` page by page, and how many pages that took."""
    items, pages, cursor = [], 0, None
    while True:
        sep = "&" if "?" in path else "?"
        page = await svc.get(f"{path}{sep}limit={limit}" + (f"&cursor={cursor}" if cursor else ""))
        assert len(page["items"]) <= limit
        items += page["items"]
        pages += 1
        cursor = page.get("next")
        if cursor is None:
            return items, pages


@pytest.fixture
async def busy(make_service: ServiceFactory) -> Service:
    """Five instances provisioned, then one updated: 6 orders, 6 runs, a long audit trail."""
    svc = await make_service("quick")
    for n in range(5):
        order = {"id": f"o{n}", "action": "provision", "instance": f"demo{n}"}
        assert (await svc.post_order(order)).status == 202
    assert (await svc.post_order({"id": "o5", "action": "update", "instance": "demo1"})).status
    for n in range(6):
        assert (await svc.finished(f"o{n}"))["status"] == "succeeded"
    return svc


async def test_every_list_pages_to_the_same_items_it_lists_whole(busy: Service) -> None:
    svc = busy
    run_id = (await svc.get("/api/v1/orders/o5"))["runs"][0]["id"]
    for path, key in [
        ("/api/v1/orders", "id"),
        ("/api/v1/runs", "id"),
        ("/api/v1/instances", "name"),
        ("/api/v1/audit", "seq"),
        (f"/api/v1/runs/{run_id}/events", "seq"),
        ("/api/v1/orders/o5/events", "seq"),
    ]:
        whole, one_page = await _walk(svc, path, 1000)
        assert one_page == 1
        paged, pages = await _walk(svc, path, 2)
        assert [i[key] for i in paged] == [i[key] for i in whole], path
        assert pages == -(-len(whole) // 2), path  # the last page says no next
        assert len(whole) >= 5, path
    assert [o["id"] for o in (await _walk(svc, "/api/v1/orders", 2))[0]] == [
        "o5", "o4", "o3", "o2", "o1", "o0"
    ]  # fmt: skip
    audit, pages = await _walk(svc, f"/api/v1/audit?subject={run_id}", 1)
    assert {a["subject"] for a in audit} == {run_id}
    assert pages == len(audit) >= 2  # started, finished


@pytest.mark.parametrize(
    "cursor",
    [
        "x",
        "runs:5",  # another list's
        "orders:5 OR 1=1",
        "orders:" + "9" * 30,
        "orders:5\n",
        "orders:-5",
        "%00",
        "orders:1\u00e9",
        "b3JkZXJzOjE",  # the base64 of an older cursor shape
    ],
)
async def test_a_cursor_not_given_by_this_list_is_refused(
    make_service: ServiceFactory, cursor: str
) -> None:
    response = await svc_get(await make_service("quick"), "/api/v1/orders", {"cursor": cursor})
    assert response[0] == 400
    assert "list again" in response[1]["detail"]


async def svc_get(svc: Service, path: str, params: dict[str, str]) -> tuple[int, Any]:
    response = await svc.client.get(path, params=params, headers=BEARER)
    return response.status, await response.json()


async def test_an_order_events_cursor_of_another_shape_is_refused(
    make_service: ServiceFactory,
) -> None:
    svc = await make_service("quick")
    assert (await svc.post_order({"id": "o1", "action": "provision", "instance": "demo"})).status
    assert (await svc.finished("o1"))["status"] == "succeeded"
    seq_only = "order-events:5"  # not <run id>:<seq>
    status, body = await svc_get(svc, "/api/v1/orders/o1/events", {"cursor": seq_only})
    assert status == 400
    assert "list again" in body["detail"]
