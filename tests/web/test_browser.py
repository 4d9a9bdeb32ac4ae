"""The dashboard in Debian's Chromium (Playwright) against `buildcensus serve` on 127.0.0.1.

Screenshots of every page go to test-artifacts/web/. Never downloads a browser: without
/usr/bin/chromium these tests are skipped.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from buildcensus.web._session import COOKIE

from .conftest import ARTIFACTS, Data, Server

CHROMIUM = "/usr/bin/chromium"
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"{CHROMIUM} is not installed"),
]
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PAGES = {
    "overview": "/?days=90",
    "packages": "/packages?days=365&ecosystem=pip&package=sphinx&by=month",
    "extensions": "/extensions?days=90",
    "environment": "/environment?days=90",
    "config-keys": "/config-keys?days=90",
    "build-time": "/build-time?days=90",
    "impact": "/impact?days=90&where=pip:sphinx>=1",
    "regressions": "/regressions?days=365&min_builds=1",
}


@pytest.fixture(scope="module")
def browser() -> Iterator:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


class Watch:
    """Console errors, failed requests and every URL a page asked for."""

    def __init__(self, page) -> None:
        self.errors: list[str] = []
        self.urls: list[str] = []
        page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        page.on("requestfailed", lambda r: self.errors.append(f"failed: {r.url}"))
        page.on("request", lambda r: self.urls.append(r.url))

    def check(self, server: Server) -> None:
        assert self.errors == []
        origin = urlsplit(server.url).netloc
        remote = [u for u in self.urls if not u.startswith(("data:", "blob:"))]
        assert remote and all(urlsplit(u).netloc == origin for u in remote), remote


def log_in(page, server: Server, token: str) -> None:
    page.goto(server.url + "/")
    assert urlsplit(page.url).path == "/login"
    page.fill("#token", token)
    page.click("#login-form button[type=submit]")
    page.wait_for_load_state()


@pytest.fixture(scope="module")
def page(browser, server: Server, data: Data) -> Iterator:
    context = browser.new_context(viewport={"width": 1400, "height": 900}, accept_downloads=True)
    pg = context.new_page()
    log_in(pg, server, data.read)
    yield pg
    context.close()


def test_login_flow(browser, server: Server, data: Data) -> None:
    context = browser.new_context()
    pg = context.new_page()
    watch = Watch(pg)
    pg.goto(server.url + "/config-keys?days=90")
    assert urlsplit(pg.url).path == "/login"
    pg.fill("#token", "bct_wrong")
    pg.click("#login-form button[type=submit]")
    assert pg.locator(".error").inner_text() == "invalid token"
    pg.fill("#token", data.read)
    pg.click("#login-form button[type=submit]")
    pg.wait_for_load_state()
    assert urlsplit(pg.url).path == "/config-keys"  # back where the user wanted to go
    assert pg.locator("h1").inner_text() == "Config keys users set"
    (cookie,) = [c for c in context.cookies() if c["name"] == COOKIE]
    assert cookie["httpOnly"] and cookie["value"] != data.read
    pg.click("#logout")
    pg.wait_for_load_state()
    assert urlsplit(pg.url).path == "/login"
    pg.goto(server.url + "/")
    assert urlsplit(pg.url).path == "/login"
    # the 401 of the wrong token is the only console message a browser logs here
    assert [e for e in watch.errors if "401" not in e] == []
    context.close()


@pytest.mark.parametrize("name", list(PAGES))
def test_page_loads_and_draws(page, server: Server, name: str) -> None:
    watch = Watch(page)
    page.goto(server.url + PAGES[name])
    page.wait_for_load_state("load")
    assert page.locator("h1").count() == 1
    assert page.locator(".error").count() == 0
    charts = page.locator("svg.chart")
    assert charts.count() >= 1
    values = page.eval_on_selector_all(
        "svg.chart rect.mark", "els => els.map(e => Number(e.dataset.value))"
    )
    assert values and sum(values) > 0
    box = charts.first.bounding_box()
    assert box and box["width"] > 300 and box["height"] > 60  # drawn, not collapsed
    assert page.locator("table.data tbody tr").count() >= 1
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    watch.check(server)


def test_impact_form_end_to_end(page, server: Server) -> None:
    watch = Watch(page)
    page.goto(server.url + "/impact?days=90")
    page.fill("#where", "pip:sphinx>=1\npython>=3")
    page.click("#impact-form button[type=submit]")
    page.wait_for_load_state()
    assert "where=pip%3Asphinx%3E%3D1" in page.url
    affected = int(page.locator('[data-stat="affected projects"]').inner_text().replace(",", ""))
    assert affected > 0
    rows = page.locator("#panel-impact-list table tbody tr")
    assert rows.count() == affected
    assert page.locator("#panel-impact-trend svg.chart rect.mark").count() >= 1
    with page.expect_download() as info:
        page.click("#impact-csv")
    lines = open(info.value.path(), encoding="utf-8").read().splitlines()
    assert lines[0] == "project,last_build,matched" and len(lines) == affected + 1
    first = rows.first.locator("td").first.inner_text()
    assert any(ln.startswith(first + ",") for ln in lines[1:])
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "impact-form.png"), full_page=True)
    watch.check(server)


def test_chart_downloads(page, server: Server) -> None:
    page.goto(server.url + "/?days=90")
    panel = page.locator("#panel-builds-per-day")
    with page.expect_download() as info:
        panel.locator('button[data-download="svg"]').click()
    assert info.value.suggested_filename == "builds-per-day-90d.svg"
    svg = open(info.value.path(), encoding="utf-8").read()
    assert svg.startswith("<svg") and 'xmlns="http://www.w3.org/2000/svg"' in svg
    assert re.search(r'class="mark"', svg)
    with page.expect_download() as info:
        panel.locator('button[data-download="png"]').click()
    assert info.value.suggested_filename == "builds-per-day-90d.png"
    with open(info.value.path(), "rb") as f:
        head = f.read(24)
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    width = int.from_bytes(head[16:20], "big")
    assert width >= 760  # drawn at twice the chart's size
