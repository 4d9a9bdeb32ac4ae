"""Through the real entry points: records -> lake -> `buildcensus import` -> `report regressions`,
`diff --last-good` from the warehouse, and the HTTP API with read-scope tokens."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from explain_history import Plant, generate

from buildcensus.cli import main
from buildcensus.explain import COLUMNS, EXTRA_COLUMNS
from buildcensus.lake import open_lake
from buildcensus.record import parse_record
from buildcensus.service import ServiceSettings, create_app
from buildcensus.service.auth import create_token


def run(capsys, *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(list(args))
    out = capsys.readouterr()
    return exc.value.code, out.out, out.err


@pytest.fixture(scope="module")
def history(tmp_path_factory) -> tuple[Path, Path, str, str]:
    """A planted regression stored in a lake and imported into a warehouse."""
    root = tmp_path_factory.mktemp("e2e")
    hist = generate(7, projects=45, days=18, plant=Plant("pip", "sphinx", harm=0.6), records=True)
    lake = open_lake(str(root / "lake"))
    for rec in hist.records:
        lake.store(parse_record(rec))
    with pytest.raises(SystemExit) as exc:
        main(["import", "--lake", str(root / "lake"), "--warehouse", str(root / "wh")])
    assert exc.value.code == 0
    assert hist.planted is not None
    return root / "lake", root / "wh", hist.planted, _broken_project(hist.builds)


def _broken_project(builds) -> str:
    """A project whose failed build follows a successful one."""
    seen_ok = set()
    for b in sorted(builds, key=lambda b: b["start"]):
        if b["success"]:
            seen_ok.add(b["project"])
        elif b["project"] in seen_ok:
            return b["project"]
    raise AssertionError("the history has no broken project")


def test_cli_report_regressions(history, capsys):
    lake, wh, planted, _ = history
    code, out, err = run(
        capsys, "report", "regressions", "--warehouse", str(wh), "--format", "json"
    )
    assert code == 0, err
    rows = json.loads(out)
    assert list(rows[0]) == list(COLUMNS + EXTRA_COLUMNS)
    assert (rows[0]["package"], rows[0]["to"], rows[0]["significant"]) == ("sphinx", planted, True)
    assert all(not r["significant"] for r in rows[1:] if r["package"] != "sphinx")
    code, out, _ = run(
        capsys, "report", "regressions", "--warehouse", str(wh), "--min-builds", "100000"
    )
    assert code == 0 and "sphinx" not in out
    code, out, _ = run(
        capsys, "report", "regressions", "--warehouse", str(wh), "--format", "csv", "--limit", "1"
    )
    assert out.splitlines()[0] == ",".join(COLUMNS)
    assert len(out.splitlines()) == 2
    code, _, err = run(capsys, "report", "regressions", "--warehouse", str(wh), "--since", "soon")
    assert code == 2 and "not a date" in err


def test_cli_last_good_from_the_warehouse(history, capsys):
    lake, wh, planted, project = history
    args = ["--lake", str(lake), "--warehouse", str(wh), "--format", "json"]
    code, out, err = run(capsys, "diff", "--project", project, "--last-good", *args)
    assert code == 0, err
    data = json.loads(out)
    assert data["last_good"]["source"] == "warehouse"
    assert data["build"]["from"]["success"] is True and data["build"]["to"]["success"] is False
    code, out2, _ = run(capsys, "diff", "--project", project, "--last-good", "--scan-lake", *args)
    assert json.loads(out2)["last_good"] | {"source": "warehouse"} == data["last_good"]
    good, failed = data["last_good"]["good"], data["last_good"]["failed"]
    code, out3, _ = run(capsys, "diff", good, failed, *args)  # ids found via the warehouse
    assert code == 0
    assert {k: v for k, v in json.loads(out3).items()} | {"last_good": data["last_good"]} == data


@pytest.fixture
def tokens(tmp_path):
    f = tmp_path / "tokens.json"
    return f, create_token(f, "reader", ["read"]), create_token(f, "writer", ["write"])


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_http_api(history, tokens, anyio_backend):
    lake, wh, planted, _ = history
    f, read, write = tokens
    app = create_app(ServiceSettings(lake_url=str(lake), warehouse_url=str(wh), tokens_file=f))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        ok = {"authorization": f"Bearer {read}"}
        r = await client.get("/api/v1/reports/regressions", headers=ok)
        assert r.status_code == 200
        rows = r.json()
        assert (rows[0]["package"], rows[0]["to"]) == ("sphinx", planted)
        r = await client.get("/api/v1/reports/regressions?significant=true&limit=1", headers=ok)
        assert len(r.json()) == 1 and r.json()[0]["significant"] is True
        r = await client.get("/api/v1/reports/regressions?since=nope", headers=ok)
        assert r.status_code == 400 and "not a date" in r.json()["error"]["message"]
        r = await client.get("/api/v1/reports/regressions")
        assert r.status_code == 401
        r = await client.get(
            "/api/v1/reports/regressions", headers={"authorization": f"Bearer {write}"}
        )
        assert r.status_code == 403
        r = await client.get("/api/v1/builds/1001/diff/1002", headers=ok)
        assert r.status_code == 200
        body = r.json()
        assert body["build"]["from"]["id"] == 1001 and body["build"]["to"]["id"] == 1002
        assert {"packages", "config", "python", "os", "tools", "doctool"} <= set(body)
        r = await client.get("/api/v1/builds/1001/diff/999999", headers=ok)
        assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
        r = await client.get("/api/v1/builds/1001/diff/a.b", headers=ok)
        assert r.status_code == 422
