"""A client that reconnects with Last-Event-ID gets the rest: no event twice, none lost."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp import ClientResponse

from .credentials import BEARER
from .servicekit import Service, ServiceFactory

pytestmark = pytest.mark.integration


async def _frames(response: ClientResponse, events: int | None = None) -> list[dict[str, Any]]:
    """The frames of an SSE stream ({event, id, data}) until ``events`` events or its end."""
    frames, frame = [], {}
    async for raw in response.content:
        line = raw.decode().rstrip("\r\n")
        if not line:
            if "data" in frame:
                frames.append(frame)
            frame = {}
            if events is not None and sum(f["event"] == "event" for f in frames) >= events:
                break
            continue
        field, _, value = line.partition(": ")
        if field in ("event", "id", "data"):
            frame[field] = value
    response.close()
    return frames


async def _stream(svc: Service, path: str, last: str | None = None) -> ClientResponse:
    headers = {**BEARER, **({"Last-Event-ID": last} if last else {})}
    response = await svc.client.get(path, params={"follow": "1"}, headers=headers)
    assert response.status == 200, await response.text()
    return response


def _ids(frames: list[dict[str, Any]]) -> list[str]:
    return [f["id"] for f in frames if f["event"] == "event"]


async def _done(svc: Service, order_id: str) -> dict[str, Any]:
    order = await svc.finished(order_id)
    assert order["status"] == "succeeded"
    return order


async def test_run_and_order_streams_resume_after_the_last_event_id(
    make_service: ServiceFactory,
) -> None:
    svc = await make_service("quick")
    assert (await svc.post_order({"id": "o1", "action": "provision", "instance": "demo"})).status
    await _done(svc, "o1")
    run_id = (await svc.get("/api/v1/orders/o1"))["runs"][0]["id"]
    everything = [
        f"{run_id}:{e['seq']}" for e in (await svc.get(f"/api/v1/runs/{run_id}/events"))["items"]
    ]
    assert len(everything) >= 6

    for path in (f"/api/v1/runs/{run_id}/events", "/api/v1/orders/o1/events"):
        first = _ids(await _frames(await _stream(svc, path), events=3))
        assert first == everything[:3]
        rest = await _frames(await _stream(svc, path, last=first[-1]))
        assert first + _ids(rest) == everything, path
        assert rest[-1]["event"] == "end"


async def test_an_order_stream_resumes_past_the_runs_already_sent(
    make_service: ServiceFactory,
) -> None:
    svc = await make_service("quick")
    for order_id in ("o1", "o2"):  # the update runs again: its order stream has one run
        body = {"id": order_id, "action": "provision" if order_id == "o1" else "update",
                "instance": "demo"}  # fmt: skip
        assert (await svc.post_order(body)).status == 202
        await _done(svc, order_id)
    whole = _ids(await _frames(await _stream(svc, "/api/v1/orders/o2/events")))
    rest = _ids(await _frames(await _stream(svc, "/api/v1/orders/o2/events", last=whole[-2])))
    assert rest == whole[-1:]


@pytest.mark.parametrize(
    "bad", ["x", "run:abc", "a" * 80 + ":1", "r:1\u00e9", "r:1234567890123456789"]
)
async def test_a_malformed_last_event_id_is_refused(make_service: ServiceFactory, bad: str) -> None:
    svc = await make_service("quick")
    assert (await svc.post_order({"id": "o1", "action": "provision", "instance": "demo"})).status
    await _done(svc, "o1")
    response = await svc.client.get(
        "/api/v1/orders/o1/events", params={"follow": "1"},
        headers={**BEARER, "Last-Event-ID": bad},
    )  # fmt: skip
    assert response.status == 400
    assert bad not in await response.text()


async def test_after_an_event_id_an_order_lists_and_streams_only_what_followed(
    make_service: ServiceFactory,
) -> None:
    svc = await make_service("quick")
    assert (await svc.post_order({"id": "o1", "action": "provision", "instance": "demo"})).status
    await _done(svc, "o1")
    path = "/api/v1/orders/o1/events"
    whole = [f"{e['run']}:{e['seq']}" for e in (await svc.get(path))["items"]]
    assert len(whole) >= 6
    listed = await svc.client.get(path, params={"after": whole[2], "limit": "2"}, headers=BEARER)
    assert listed.status == 200, await listed.text()
    page = await listed.json()
    assert [f"{e['run']}:{e['seq']}" for e in page["items"]] == whole[3:5]
    following = await svc.client.get(
        path, params={"after": whole[2], "cursor": page["next"]}, headers=BEARER
    )
    assert [f"{e['run']}:{e['seq']}" for e in (await following.json())["items"]] == whole[5:]
    response = await svc.client.get(path, params={"follow": "1", "after": whole[2]}, headers=BEARER)
    assert response.status == 200
    assert _ids(await _frames(response)) == whole[3:]


@pytest.mark.parametrize("bad", ["7", "run:abc", "a" * 80 + ":1", "r:1\u00e9", "r:1:2"])
async def test_an_order_events_after_that_is_no_event_id_is_refused(
    make_service: ServiceFactory, bad: str
) -> None:
    svc = await make_service("quick")
    assert (await svc.post_order({"id": "o1", "action": "provision", "instance": "demo"})).status
    await _done(svc, "o1")
    for follow in ("0", "1"):
        response = await svc.client.get(
            "/api/v1/orders/o1/events", params={"after": bad, "follow": follow}, headers=BEARER
        )
        assert response.status == 400
        assert bad not in await response.text()
