"""Public statistics: `buildcensus publish` files and `/api/v1/public/...`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from buildcensus.cli import main
from buildcensus.publish import WINDOWS, build_public
from buildcensus.reports import make_params, run_report
from buildcensus.warehouse import open_warehouse

from .conftest import Data, K, asgi, make_app


def run_cli(*args: str) -> int:
    with pytest.raises(SystemExit) as exc:
        main(list(args))
    return int(exc.value.code or 0)


@pytest.fixture(scope="module")
def published(data: Data, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("public")
    code = run_cli(
        "publish", "--out", str(out), "--warehouse", str(data.warehouse),
        "--min-projects", str(K), "--now", data.now.isoformat() + "Z",
    )  # fmt: skip
    assert code == 0
    return out


def numbers(doc: Any, key: str) -> list[int]:
    """Every value under `key` anywhere in a JSON document."""
    if isinstance(doc, dict):
        found = [doc[key]] if key in doc else []
        return found + [n for v in doc.values() for n in numbers(v, key)]
    if isinstance(doc, list):
        return [n for v in doc for n in numbers(v, key)]
    return []


def test_files_and_threshold(published: Path) -> None:
    index = json.loads((published / "index.json").read_text())
    assert index["min_projects"] == K and index["windows"] == ["30d", "90d", "365d"]
    paths = {p["path"] for p in index["packages"]}
    files = {str(f.relative_to(published)) for f in published.rglob("*.json")} - {"index.json"}
    assert paths == files and "pip/sphinx.json" in files
    for f in [published / "index.json", *(published / p for p in paths)]:
        doc = json.loads(f.read_text())
        counts = numbers(doc, "projects")
        assert counts and min(counts) >= K, f  # values under the threshold never appear


def test_counts_equal_the_reports(published: Path, data: Data) -> None:
    con = open_warehouse(str(data.warehouse)).connect()
    index = json.loads((published / "index.json").read_text())
    for eco in ("pip", "apt"):
        top = run_report("top", make_params(last="365d", now=data.now, ecosystem=eco, limit=0), con)
        expected = sorted(r["package"] for r in top if r["projects"] >= K)
        assert sorted(p["package"] for p in index["packages"] if p["ecosystem"] == eco) == [
            p for p in expected if "/" not in p
        ]
    for package in ("sphinx", "docutils", "jinja2"):
        doc = json.loads((published / "pip" / f"{package}.json").read_text())
        for days in WINDOWS:
            p = make_params(last=f"{days}d", now=data.now, ecosystem="pip", package=package)
            rows = run_report("versions", p, con)
            want = [r for r in rows if r["projects"] >= K]
            assert doc["windows"][f"{days}d"]["versions"] == want
        p = make_params(last="365d", now=data.now, ecosystem="pip", package=package, by="month")
        adoption = run_report("adoption", p, con)
        assert doc["monthly"] == [
            {"month": r["period"][:7], "version": r["version"], "projects": r["projects"]}
            for r in adoption
            if r["projects"] >= K
        ]
    # some sphinx versions are used by fewer than K projects, and they are left out
    rows = run_report(
        "versions", make_params(last="90d", now=data.now, ecosystem="pip", package="sphinx"), con
    )
    rare = {r["version"] for r in rows if 0 < r["projects"] < K}
    assert rare
    shown = {v["version"] for v in json.loads((published / "pip/sphinx.json").read_text())[
        "windows"]["90d"]["versions"]}  # fmt: skip
    assert shown and not rare & shown


def test_the_service_serves_the_same_documents(published: Path, data: Data) -> None:
    with asgi(make_app(data, public=False, min_projects=K)) as c:
        for rel in ("index.json", "pip/sphinx.json", "pip/docutils.json"):
            r = c.get(f"/api/v1/public/{rel}")  # no token needed: aggregates only
            assert r.status_code == 200 and r.headers["content-type"] == "application/json"
            assert r.json() == json.loads((published / rel).read_text())
        for bad in ("pip/not-a-package.json", "pip/..%2F..%2Findex.json", "npm/sphinx.json"):
            assert c.get(f"/api/v1/public/{bad}").status_code == 404


def test_republishing_removes_packages_under_a_higher_threshold(data: Data, tmp_path) -> None:
    con = open_warehouse(str(data.warehouse)).connect()
    low = build_public(con, data.now, 2)
    high = build_public(con, data.now, 20)
    assert set(high) < set(low)
    out = tmp_path / "pub"
    args = ["publish", "--out", str(out), "--warehouse", str(data.warehouse)]
    now = ["--now", data.now.isoformat()]
    assert run_cli(*args, "--min-projects", "2", *now) == 0
    assert run_cli(*args, "--min-projects", "20", *now) == 0
    assert {str(f.relative_to(out)) for f in out.rglob("*.json")} == set(high)
    assert run_cli(*args, "--min-projects", "0") == 2
    assert run_cli(*args, "--now", "yesterday") == 2


def test_public_counts_equal_the_reports_api(data: Data) -> None:
    """Through HTTP: `/api/v1/public/...` against `GET /api/v1/reports/...` (read token)."""
    auth = {"authorization": f"Bearer {data.read}"}
    now = data.now.isoformat()
    with asgi(make_app(data, min_projects=K)) as c:
        index = c.get("/api/v1/public/index.json").json()
        for days in WINDOWS:
            r = c.get(
                "/api/v1/reports/top",
                params={"ecosystem": "pip", "last": f"{days}d", "now": now, "limit": 0},
                headers=auth,
            )
            assert r.status_code == 200, r.text
            top = {row["package"]: row for row in r.json()}
            for entry in (e for e in index["packages"] if e["ecosystem"] == "pip"):
                got = entry["windows"].get(f"{days}d")
                want = top[entry["package"]]
                if want["projects"] >= K:
                    assert got == {"projects": want["projects"], "builds": want["builds"]}
                else:
                    assert got is None
        for package in ("sphinx", "docutils"):
            doc = c.get(f"/api/v1/public/pip/{package}.json").json()
            for days in WINDOWS:
                q = {"ecosystem": "pip", "package": package, "last": f"{days}d", "now": now}
                rows = c.get("/api/v1/reports/versions", params=q, headers=auth).json()
                want = [row for row in rows if row["projects"] >= K]
                assert want and doc["windows"][f"{days}d"]["versions"] == want
