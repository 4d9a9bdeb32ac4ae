"""`GET /api/v1/reports/<name>` on a minimal app, through httpx.ASGITransport."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
from fastapi import FastAPI

import buildcensus.service.reports_api as api
from buildcensus.reports import make_params, run_report
from buildcensus.service.http_errors import install_error_handlers

from .sample import WINDOW, sample
from .wh import connect


@pytest.fixture
def root(tmp_path, monkeypatch):
    root = sample().write(tmp_path / "wh")
    monkeypatch.setattr(api, "connect_warehouse", lambda url, threads=None: connect(root))
    return root


def app_for(root, **state) -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)
    app.include_router(api.router)
    app.state.warehouse_url = str(root)
    for k, v in state.items():
        setattr(app.state, k, v)
    return app


def get(app: FastAPI, url: str, **params) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.get(url, params=params)

    return asyncio.run(go())


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("versions", {"ecosystem": "pip", "package": "sphinx", "include_failed": True}),
        ("top", {"ecosystem": "pip", "limit": 2}),
        ("adoption", {"ecosystem": "pip", "package": "sphinx", "by": "week"}),
        ("extensions", {}),
        ("themes", {}),
        ("breakdown", {"by": "config:build.os"}),
        ("config-keys", {}),
        ("impact", {"where": ["pip:sphinx>=7", "python>=3.11"]}),
        ("build-time", {"limit": 3}),
    ],
)
def test_same_json_as_the_core(root, name, params):
    r = get(app_for(root), f"/api/v1/reports/{name}", **WINDOW, **params)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/json"
    with connect(root) as con:
        expected = run_report(name, make_params(**WINDOW, **params), con)
    assert r.json() == expected and expected


def test_now_and_last(root):
    a = get(app_for(root), "/api/v1/reports/themes", now="2026-12-01T00:00:00Z", last="30d")
    b = get(app_for(root), "/api/v1/reports/themes", **WINDOW)
    assert (
        a.json()
        == b.json()
        == [
            {"theme": "furo", "projects": 2},
            {"theme": "material", "projects": 1},
            {"theme": "sphinx_rtd_theme", "projects": 1},
        ]
    )


@pytest.mark.parametrize(
    ("url", "params", "status", "message"),
    [
        (
            "/api/v1/reports/impact",
            {"where": "pip:sphinx<<2"},
            400,
            "--where 'pip:sphinx<<2': invalid version specifier: '<<2'",
        ),
        ("/api/v1/reports/versions", {"ecosystem": "pip"}, 400, "this report needs --package"),
        ("/api/v1/reports/top", {"ecosystem": "npm"}, 400, "--ecosystem: expected one of"),
        ("/api/v1/reports/themes", {"since": "soon"}, 400, "--since: not a date or ISO time"),
        ("/api/v1/reports/themes", {"limit": -1}, 422, "Input should be greater than"),
        ("/api/v1/reports/nope", {}, 404, "Not Found"),
    ],
)
def test_errors_are_json(root, url, params, status, message):
    r = get(app_for(root), url, **params)
    assert r.status_code == status
    assert r.json()["error"]["message"].startswith(message)


def test_missing_warehouse_404(tmp_path):
    r = get(app_for(tmp_path / "none"), "/api/v1/reports/themes")
    assert r.status_code == 404
    assert "run `buildcensus import` first" in r.json()["error"]["message"]


def test_row_cap(root):
    r = get(
        app_for(root, reports_max_rows=2),
        "/api/v1/reports/versions",
        ecosystem="pip",
        package="sphinx",
        **WINDOW,
    )
    assert r.status_code == 200 and r.headers["x-row-cap-reached"] == "true"
    assert [row["version"] for row in r.json()] == ["7.1.0rc1", "7.0.0"]
    r = get(
        app_for(root, reports_max_rows=0), "/api/v1/reports/impact", where="pip:sphinx>=1", **WINDOW
    )
    assert r.json()["projects"] == 4 and r.json()["affected"] == []
    assert r.headers["x-row-cap-reached"] == "true"
    r = get(
        app_for(root, reports_max_rows=3),
        "/api/v1/reports/versions",
        ecosystem="pip",
        package="sphinx",
        **WINDOW,
    )
    assert "x-row-cap-reached" not in r.headers and len(r.json()) == 3


def test_time_limit_interrupts_the_query(root, monkeypatch):
    def slow(name, params, con, max_rows=None):
        return con.execute("SELECT COUNT(*) FROM range(100000000000) a").fetchall()

    monkeypatch.setattr(api, "run_report", slow)
    t0 = time.monotonic()
    r = get(app_for(root, reports_timeout=0.3), "/api/v1/reports/themes")
    assert r.status_code == 503
    assert r.json()["error"] == {
        "code": "timeout",
        "message": "report took longer than 0.3 s",
        "path": None,
    }
    assert time.monotonic() - t0 < 10
