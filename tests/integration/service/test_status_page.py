"""The status page over HTTP, in process (no browser): its guard, its cookie, what it escapes,
the dead letters it and the CLI read, and that no secret reaches a page or the log."""

from __future__ import annotations

import logging
import re
import sqlite3
from typing import Any

import pytest
from aiohttp import ClientResponse

from litemaas_controller import ui
from litemaas_controller.api import keys
from litemaas_controller.ui.session import COOKIE, SessionSigner

from .clikit import cli
from .credentials import BEARER, TOKEN
from .servicekit import Service, ServiceFactory

pytestmark = pytest.mark.integration

PAGES = ["/ui/", "/ui/orders", "/ui/dead-letters", "/ui/instances/x", "/ui/orders/x",
         "/ui/orders/x/events", "/ui/nothing-here"]  # fmt: skip
HOSTILE = "<script>window.__pwned=1</script><img src=x onerror=alert(1)>"


async def _start(make_service: ServiceFactory, **overrides: Any) -> Service:
    return await make_service("quick", make=ui.make_app, **overrides)


async def _login(svc: Service, token: str = TOKEN, **headers: str) -> ClientResponse:
    return await svc.client.post(
        "/ui/login", data={"token": token}, headers=headers, allow_redirects=False
    )


async def _logged_in(svc: Service) -> str:
    response = await _login(svc)
    assert response.status == 303 and response.headers["Location"] == "/ui/"
    return response.cookies[COOKIE].value


async def _page(svc: Service, path: str, cookie: str) -> str:
    response = await svc.client.get(path, cookies={COOKIE: cookie}, allow_redirects=False)
    assert response.status == 200, (path, response.status, await response.text())
    return await response.text()


async def test_without_a_session_only_the_login_form_and_the_static_files_are_served(
    make_service: ServiceFactory,
) -> None:
    svc = await _start(make_service)
    root = await svc.client.get("/", allow_redirects=False)
    assert root.status == 302 and root.headers["Location"] == "/ui/"
    for path in PAGES:
        response = await svc.client.get(path, allow_redirects=False)
        if path.endswith("/events"):
            assert response.status == 401, path
        else:
            assert response.status == 303 and response.headers["Location"] == "/ui/login", path
    # the API token is not a session: the page wants its cookie
    bearer = await svc.client.get("/ui/", headers=BEARER, allow_redirects=False)
    assert bearer.status == 303
    assert (await svc.client.get("/ui/login")).status == 200
    css = await svc.client.get("/ui/static/ui.css")
    assert css.status == 200 and "Content-Security-Policy" in css.headers
    escape = await svc.client.get("/ui/static/../session.py", allow_redirects=False)
    assert escape.status in (303, 403, 404)


async def test_a_wrong_token_is_refused_and_the_right_one_gets_a_strict_signed_cookie(
    make_service: ServiceFactory,
) -> None:
    svc = await _start(make_service)
    refused = await _login(svc, token=TOKEN + "x")
    assert refused.status == 401 and COOKIE not in refused.cookies
    assert "not this controller" in await refused.text()

    response = await _login(svc)
    assert response.status == 303
    header = response.headers["Set-Cookie"]
    assert "HttpOnly" in header and "SameSite=Strict" in header and "Secure" in header
    assert "Max-Age=28800" in header and "Path=/ui" in header
    page = await _page(svc, "/ui/", response.cookies[COOKIE].value)
    assert "<h1>Instances</h1>" in page
    assert (
        "script-src 'self'"
        in (await svc.client.get("/ui/login")).headers["Content-Security-Policy"]
    )
    out = await svc.client.post("/ui/logout", cookies={COOKIE: response.cookies[COOKIE].value},
                                allow_redirects=False)  # fmt: skip
    assert out.status == 303 and out.cookies[COOKIE].value == ""


async def test_plain_http_drops_secure_and_a_login_from_another_site_is_refused(
    make_service: ServiceFactory,
) -> None:
    svc = await _start(make_service, ui_scheme="http")
    response = await _login(svc)
    assert "Secure" not in response.headers["Set-Cookie"]
    assert (await _login(svc, Origin="https://evil.example")).status == 403
    host = svc.client.make_url("").host
    assert (await _login(svc, Origin=f"http://{host}:{svc.client.port}")).status == 303


@pytest.mark.parametrize(
    "forge",
    [
        lambda good, signer: good[:-1] + ("0" if good[-1] != "0" else "1"),  # tampered signature
        lambda good, signer: re.sub(r"\.(\d+)\.", lambda m: f".{int(m[1]) + 999}.", good),
        lambda good, signer: SessionSigner("another-token-0123456789", 60).issue(0),  # other key
        lambda good, signer: signer.issue(-10_000),  # signed, but long expired
        lambda good, signer: "v1.9999999999.",
        lambda good, signer: "",
    ],
    ids=["tampered", "extended", "other-key", "expired", "unsigned", "empty"],
)
async def test_a_forged_tampered_or_expired_cookie_is_refused(
    make_service: ServiceFactory, forge: Any
) -> None:
    svc = await _start(make_service)
    signer: SessionSigner = svc.client.app[ui.app.guard.SIGNER]  # type: ignore[index]
    bad = forge(await _logged_in(svc), signer)
    response = await svc.client.get("/ui/", cookies={COOKIE: bad}, allow_redirects=False)
    assert response.status == 303 and response.headers["Location"] == "/ui/login"


async def test_markup_in_orders_reasons_and_results_shows_as_text_and_links_stay_http(
    make_service: ServiceFactory,
) -> None:
    svc = await _start(make_service)
    order = {"id": "x1", "action": "provision", "instance": "web",
             "vars": {"ocp4_workload_litemaas_version": HOSTILE}}  # fmt: skip
    assert (await svc.post_order(order)).status == 202
    assert (await svc.finished("x1"))["status"] == "succeeded"
    store = svc.client.app[keys.STORE]  # type: ignore[index]
    await store.health.record("web", "failed", HOSTILE, 1.0)
    # a run's results could name any URL (as a playbook's set_stats would): only http(s) links
    db = sqlite3.connect(svc.settings.ledger_path)
    with db:
        db.execute("UPDATE instances SET results=json_set(results, '$.admin_url', ?)",
                   ("javascript:alert(document.cookie)",))  # fmt: skip
    db.close()
    cookie = await _logged_in(svc)
    for path in ["/ui/", "/ui/instances/web", "/ui/orders", "/ui/orders/x1"]:
        page = await _page(svc, path, cookie)
        assert "<script>window" not in page and "<img src=x" not in page, path
        assert "javascript:" not in page, path
    assert "&lt;script&gt;window.__pwned=1&lt;/script&gt;" in await _page(
        svc, "/ui/instances/web", cookie
    )


async def test_orders_filter_by_status_and_instance_and_page(make_service: ServiceFactory) -> None:
    svc = await _start(make_service)
    for n, name in enumerate(["a", "b", "a"]):
        order = {"id": f"o{n}", "action": "provision" if n < 2 else "update", "instance": name}
        assert (await svc.post_order(order)).status == 202
        await svc.finished(f"o{n}")
    cookie = await _logged_in(svc)
    page = await _page(svc, "/ui/orders?instance=a&limit=1", cookie)
    assert "/ui/orders/o2" in page and "/ui/orders/o0" not in page
    [nxt] = re.findall(r'href="(\?[^"]+)"', page)
    assert "instance=a" in nxt
    second = await _page(svc, "/ui/orders" + nxt.replace("&amp;", "&"), cookie)
    assert "/ui/orders/o0" in second and "/ui/orders/o1" not in second
    none = await _page(svc, "/ui/orders?status=failed", cookie)
    assert "No orders." in none
    api = await svc.get("/api/v1/orders?status=succeeded&instance=b")
    assert [o["id"] for o in api["items"]] == ["o1"]
    assert (await svc.get("/api/v1/orders?status=failed"))["items"] == []


async def test_dead_letters_are_paged_behind_the_token_and_listed_by_the_cli_and_the_page(
    make_service: ServiceFactory,
) -> None:
    svc = await _start(make_service)
    assert (await svc.client.get("/api/v1/dead-letters")).status == 401
    store = svc.client.app[keys.STORE]  # type: ignore[index]
    for n in range(3):
        await store.dead_letters.record(f"litemaas:changes/1-{n}", f"m-{n}", "invalid")
    first = await svc.get("/api/v1/dead-letters?limit=2")
    assert [d["message_id"] for d in first["items"]] == ["m-2", "m-1"]
    rest = await svc.get(f"/api/v1/dead-letters?limit=2&cursor={first['next']}")
    assert [d["message_id"] for d in rest["items"]] == ["m-0"] and "next" not in rest
    assert "/api/v1/dead-letters" in (await svc.get("/api/v1/openapi.json"))["paths"]
    code, out, _ = await cli(svc, "dead-letters", "--chunk-size", "2")  # two requests
    assert code == 0, out
    assert [line.split()[-1] for line in out.splitlines()] == ["m-2", "m-1", "m-0"]
    page = await _page(svc, "/ui/dead-letters", await _logged_in(svc))
    assert "litemaas:changes/1-0" in page and "invalid" in page


async def test_no_page_and_no_log_line_holds_the_token_or_the_cookie_key(
    make_service: ServiceFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    svc = await _start(make_service)
    assert (
        await svc.post_order({"id": "c1", "action": "provision", "instance": "c"})
    ).status == 202
    await svc.finished("c1")
    await _login(svc, token="wrong-" + TOKEN)
    cookie = await _logged_in(svc)
    signer: SessionSigner = svc.client.app[ui.app.guard.SIGNER]  # type: ignore[index]
    key = signer._key
    assert key is not None
    canaries = [TOKEN, key.hex(), key.decode("latin-1")]
    pages = [
        await _page(svc, p, cookie)
        for p in ["/ui/", "/ui/orders", "/ui/orders/c1", "/ui/instances/c", "/ui/dead-letters"]
    ]
    pages.append(await (await svc.client.get("/ui/login")).text())
    for text in [*pages, caplog.text]:
        for canary in canaries:
            assert canary not in text
    assert "refused" in caplog.text  # the refused login was logged, without what was sent
