"""The status page in a real browser: Debian's headless Chromium, driven by Playwright, against
the service on the sandbox (the `shown` fixture project: the `healed` stand-in objects).

One scenario, one service and one browser (the suite's time): login refused then accepted; an
order shows up and its tasks arrive live, markup in its output stays text; an injected fault shows
the instance failed, then healthy after its repair, both in the history picture; then every page
is scanned by axe-core, checked at 360 px, and photographed into the run's artifacts.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Page, async_playwright, expect

from litemaas_controller import ui
from litemaas_controller.api import keys
from sandbox import Sandbox

from .credentials import BEARER, TOKEN
from .healthkit import health
from .servicekit import ServiceFactory

pytestmark = pytest.mark.integration

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update",
        "--disable-sync"]  # fmt: skip
CACHE = Path(os.environ.get("LITEMAAS_CACHE", Path.home() / ".cache/litemaas-controller"))
AXE = CACHE / "axe-core-4.14.1/node_modules/axe-core/axe.min.js"
HOSTILE = "<script>window.__pwned=1</script>"
LONG = 120_000  # ms: a deploy or repair on the sandbox


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    assert Path(CHROMIUM).exists() and AXE.exists(), "run hack/setup.sh (chromium, axe-core)"
    async with async_playwright() as p:
        launched = await p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield launched
        await launched.close()


async def _axe(page: Page) -> list[dict[str, Any]]:
    """The serious and critical violations axe-core finds on the page."""
    await page.evaluate(AXE.read_text())
    found: dict[str, Any] = await page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    return [
        {"id": v["id"], "nodes": [n["target"] for n in v["nodes"]]}
        for v in found["violations"]
        if v["impact"] in ("serious", "critical")
    ]


async def _check_page(page: Page, url: str, shots: Path, shot: str) -> None:
    """axe-core finds nothing serious, no sideways scroll at 360 px, a screenshot at both sizes."""
    for width, height in ((1280, 900), (360, 740)):
        await page.set_viewport_size({"width": width, "height": height})
        await page.goto(url)
        assert await _axe(page) == [], (url, width)
        assert TOKEN not in await page.content(), url
        sideways = await page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert sideways <= 0, (url, width, sideways)
        await page.screenshot(path=shots / f"{shot}-{width}.png", full_page=True)


async def test_the_status_page_in_a_browser(
    make_service: ServiceFactory,
    sandbox_vanilla: Sandbox,
    browser: Browser,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    svc = await make_service("shown", make=ui.make_app, kubeconfig=str(sandbox_vanilla.kubeconfig),
                             health_grace=2.0, resync_period=3600.0, healing="observe",
                             ui_scheme="http")  # fmt: skip
    base = str(svc.client.make_url("")).rstrip("/")
    shots = tmp_path_factory.mktemp("status-page-screenshots")
    page = await (await browser.new_context()).new_page()

    # the page refuses a wrong token and accepts the right one; the keyboard reaches it
    await page.goto(base + "/")
    assert page.url == base + "/ui/login"
    await page.keyboard.press("Tab")
    assert await page.evaluate("document.activeElement.textContent") == "Skip to the content"
    await page.get_by_label("API token").fill("wrong-" + TOKEN)
    await page.get_by_role("button", name="Log in").click()
    await expect(page.get_by_role("alert")).to_contain_text("not this controller's API token")
    assert page.url == base + "/ui/login"
    await page.get_by_label("API token").fill(TOKEN)
    await page.get_by_role("button", name="Log in").click()
    await expect(page.get_by_role("heading", name="Instances")).to_be_visible()
    assert page.url == base + "/ui/"

    # an order shows up; its run's tasks arrive live, without a reload; markup stays text
    name = f"u{uuid.uuid4().hex[:8]}"
    order = {"id": f"p-{name}", "action": "provision", "instance": name,
             "vars": {"ocp4_workload_litemaas_version": HOSTILE}}  # fmt: skip
    assert (await svc.post_order(order)).status == 202
    await page.get_by_role("link", name="Orders").click()
    await page.get_by_role("link", name=order["id"]).click()
    await expect(page.locator("#live")).to_contain_text("Live")
    await page.evaluate("window.__sameDocument = true")
    echo = page.locator("#tasks tr", has_text="Echo the version ordered")
    assert await echo.count() == 0
    svc.evidence.release()
    await expect(echo.first).to_be_visible(timeout=LONG)
    await expect(page.locator("#order-status")).to_have_text("succeeded", timeout=LONG)
    assert await page.evaluate("window.__sameDocument") is True
    await expect(page.locator("#tasks pre", has_text=f"version {HOSTILE}").first).to_be_visible()
    assert await page.evaluate("window.__pwned") is None
    await page.reload()  # the same rows, rendered by the server this time
    await expect(page.locator("#tasks pre", has_text=f"version {HOSTILE}").first).to_be_visible()
    assert await page.evaluate("window.__pwned") is None

    # an injected fault: the instance shows failed, then healthy after its repair; the picture
    # draws both and the repair
    await health(svc, name, "healthy")
    sandbox_vanilla.set_fault("deployment", f"litemaas-{name}", "litellm", "crashloop")
    await health(svc, name, "failed")
    await page.goto(f"{base}/ui/instances/{name}")
    badge = page.locator("dl.facts .badge").first
    await expect(badge).to_have_text("failed")
    await page.screenshot(path=shots / "instance-failed-1280.png", full_page=True)
    repair = await svc.client.post(f"/api/v1/instances/{name}/repair", headers=BEARER)
    assert repair.status == 202, await repair.text()
    await health(svc, name, "healthy")
    await page.reload()
    await expect(badge).to_have_text("healthy")
    picture = page.locator("figure.history svg")
    assert await picture.locator("[data-status=failed]").count() >= 1
    assert await picture.locator("[data-status=healthy]").count() >= 2
    assert await picture.locator("[data-kind=repair]").count() == 1
    assert await picture.locator("[data-kind=failure]").count() >= 1

    # every page: axe-core, 360 px, screenshots
    store = svc.client.app[keys.STORE]  # type: ignore[index]
    await store.dead_letters.record("litemaas:changes/1-0", "m-1", "invalid")
    repair_id = (await repair.json())["id"]
    for path, shot in [("/ui/", "instances"), (f"/ui/instances/{name}", "instance"),
                       ("/ui/orders", "orders"), (f"/ui/orders/{order['id']}", "order"),
                       (f"/ui/orders/{repair_id}", "repair-order"),
                       ("/ui/dead-letters", "dead-letters")]:  # fmt: skip
        await _check_page(page, base + path, shots, shot)
    await page.get_by_role("button", name="Log out").click()
    assert page.url == base + "/ui/login"
    await _check_page(page, base + "/ui/login", shots, "login")
    assert await page.evaluate("window.__pwned") is None
    print(f"status page screenshots: {shots}")
