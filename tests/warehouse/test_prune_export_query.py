from __future__ import annotations

import csv
import io
import json

import pyarrow.parquet as pq
import pytest
from records import make_records

from buildcensus.cli import main
from buildcensus.errors import QueryError
from buildcensus.lake.keys import BLOBS
from buildcensus.record import parse_record
from buildcensus.warehouse import open_warehouse
from buildcensus.warehouse._export import export_warehouse, parse_when
from buildcensus.warehouse._prune import parse_age, prune_all
from buildcensus.warehouse._query import run_query
from conftest import fill, snapshot


def run(capsys, *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(list(args))
    out = capsys.readouterr()
    return exc.value.code, out.out, out.err


MONTHLY = "SELECT * FROM monthly_packages ORDER BY ALL"


def test_prune_keeps_monthly_aggregates(tmp_path, lake, wh):
    wh.import_lake(lake)
    con = wh.connect()
    monthly = con.execute(MONTHLY).fetchall()
    total = con.execute("SELECT count(*) FROM builds").fetchall()[0][0]
    cut = parse_when("2026-10-20T12:00:00")
    older = con.execute("SELECT count(*) FROM builds WHERE start < ?", [cut]).fetchall()[0][0]
    assert 0 < older < total
    blobs_before = len(list(lake.storage.list(BLOBS)))
    s = prune_all(lake, wh, cut)
    assert s.rows == older and s.lake_documents == older
    con = wh.connect()
    assert con.execute("SELECT count(*), min(start) >= ? FROM builds", [cut]).fetchall() == [
        (total - older, True)
    ]
    assert con.execute(MONTHLY).fetchall() == monthly  # trends survive retention
    assert all(k.rsplit("/", 1)[-1][:10] >= "2026-10-20" for k in lake.iter_keys())
    # Every blob left is referenced, every referenced one is left, and sets no build uses went.
    assert len(list(lake.storage.list(BLOBS))) <= blobs_before
    for key in lake.iter_keys():
        lake.load(key)
    unused = con.execute(
        "SELECT count(*) FROM package_sets WHERE set_id NOT IN (SELECT s FROM (SELECT "
        "unnest([pip_user_set, pip_top_level_set, pip_all_set, conda_user_set, conda_all_set, "
        "apt_user_set, apt_all_set]) AS s FROM builds) WHERE s IS NOT NULL)"
    ).fetchall()
    assert unused == [(0,)]
    # Pruned documents are not imported again; a late build for a pruned month adds to it.
    assert wh.import_lake(lake).documents == 0
    late = make_records(1, seed=77, projects=1, days=1)[0]
    late["build"]["start"] = "2026-10-20T18:00:00Z"
    lake.store(parse_record(late))
    wh.import_lake(lake)
    after = dict(
        ((r[0], r[1], r[2], r[3], r[8], r[9]), r[5])
        for r in wh.connect().execute(MONTHLY).fetchall()
    )
    before = dict(((r[0], r[1], r[2], r[3], r[8], r[9]), r[5]) for r in monthly)
    pkg = late["packages"]["pip"]["all"][0]
    k = ("pip", "all", pkg["name"].lower(), pkg["version"], 2026, 10)
    assert after[k] == before.get(k, 0) + 1


def test_prune_cli_and_age(tmp_path, lake, capsys):
    wh_dir = str(tmp_path / "wh")
    lake_dir = str(tmp_path / "lake")
    assert run(capsys, "import", "--lake", lake_dir, "--warehouse", wh_dir)[0] == 0
    code, out, _ = run(
        capsys,
        "prune",
        "--older-than",
        "40d",
        "--now",
        "2026-11-29T12:00:00Z",
        "--lake",
        lake_dir,
        "--warehouse",
        wh_dir,
    )
    assert code == 0 and "pruned before 2026-10-20T12:00:00" in out
    assert "monthly aggregates kept" in out
    code, _, err = run(capsys, "prune", "--older-than", "soon", "--warehouse", wh_dir)
    assert code == 2 and "invalid age" in err
    assert parse_age("26w").days == 182


def test_export_parquet_csv_jsonl(tmp_path, lake, wh, records):
    wh.import_lake(lake)
    since, until = parse_when("2026-10-15"), parse_when("2026-11-01")
    n = export_warehouse(wh, "parquet", str(tmp_path / "pq"), since, until)
    expected = [r for r in records if "2026-10-15" <= r["build"]["start"][:10] < "2026-11-01"]
    assert n == len(expected) > 0
    builds = pq.read_table(tmp_path / "pq" / "builds.parquet")
    assert builds.num_rows == n
    sets = set(pq.read_table(tmp_path / "pq" / "package_sets.parquet")["set_id"].to_pylist())
    assert set(builds["pip_all_set"].to_pylist()) <= sets
    assert export_warehouse(wh, "csv", str(tmp_path / "csv"), since, until) == n
    rows = list(csv.DictReader((tmp_path / "csv" / "builds.csv").open()))
    assert len(rows) == n and {r["build_id"] for r in rows} == {
        str(r["build"]["id"]) for r in expected
    }
    out = tmp_path / "out.jsonl"
    assert export_warehouse(wh, "jsonl", str(out), since, until, lake=lake) == n
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    by_id = {str(r["build"]["id"]): r for r in expected}
    for line in lines:
        # Self-contained: package lists and configs are inline again, and equal the input.
        parse_record(line)
        original = parse_record(by_id[str(line["build"]["id"])]).to_json_dict()
        assert line["packages"] == original["packages"]
        assert line["config"] == original["config"]


def test_query_limits_and_read_only(lake, wh, capsys, tmp_path):
    wh.import_lake(lake)
    r = run_query(wh, "SELECT build_id FROM builds ORDER BY build_id", limit=5)
    assert len(r.rows) == 5 and r.truncated and r.columns == ["build_id"]
    for bad in ("DROP VIEW builds", "SELECT 1; SELECT 2", "COPY builds TO '/tmp/x.csv'"):
        with pytest.raises(QueryError):
            run_query(wh, bad)
    with pytest.raises(QueryError, match="Permission|access"):
        run_query(wh, "SELECT * FROM read_text('/etc/hostname')")
    with pytest.raises(QueryError, match="time limit"):
        run_query(wh, "SELECT count(*) FROM range(10000000000) a", timeout=0.3)
    wh_dir = str(tmp_path / "wh")
    code, out, _ = run(
        capsys,
        "query",
        "SELECT doctool, count(*) AS n FROM builds GROUP BY 1 ORDER BY 1",
        "--warehouse",
        wh_dir,
        "--format",
        "json",
    )
    assert code == 0
    counts = {d["doctool"]: d["n"] for d in json.loads(out)}
    assert sum(counts.values()) == len(list(lake.iter_keys()))
    code, out, _ = run(
        capsys,
        "query",
        "SELECT ecosystem, count(*) AS n FROM versions GROUP BY 1 ORDER BY 1",
        "--warehouse",
        wh_dir,
        "--format",
        "csv",
    )
    assert code == 0 and next(csv.reader(io.StringIO(out))) == ["ecosystem", "n"]
    code, _, err = run(capsys, "query", "DELETE FROM builds", "--warehouse", wh_dir)
    assert code == 2 and "read-only" in err


def test_import_and_quarantine_cli(tmp_path, lake, capsys, monkeypatch):
    monkeypatch.setenv("BUILDCENSUS_LAKE", str(tmp_path / "lake"))
    monkeypatch.setenv("BUILDCENSUS_WAREHOUSE", str(tmp_path / "wh"))
    bad = tmp_path / "lake" / "telemetry" / "builds" / "2026" / "10" / "2026-10-09-77777.json"
    bad.write_text("{oops")
    code, out, _ = run(capsys, "import")
    assert code == 1  # some input rejected
    assert out.startswith("imported ") and "documents/s" in out
    assert "quarantined 1 documents" in out and "2026-10-09-77777.json: malformed JSON" in out
    code, out, _ = run(capsys, "import")
    assert code == 0 and out.startswith("nothing new to import")
    code, out, _ = run(capsys, "quarantine", "--format", "json")
    (entry,) = json.loads(out)
    assert entry["key"].endswith("2026-10-09-77777.json") and "malformed JSON" in entry["reason"]
    fill(lake, make_records(2, seed=3, projects=1, days=1))
    assert run(capsys, "import")[0] == 0
    snap = snapshot(open_warehouse(str(tmp_path / "wh")))
    assert len(snap["builds"]) == len(list(lake.iter_keys())) - 1


def test_forget_project_rows_and_tombstones(lake, wh):
    from datetime import UTC, datetime

    from buildcensus.lake import forget_project

    wh.import_lake(lake)
    con = wh.connect()
    project, n = con.execute(
        "SELECT project, count(*) FROM builds GROUP BY 1 ORDER BY 2 DESC LIMIT 1"
    ).fetchall()[0]
    total = con.execute("SELECT count(*) FROM builds").fetchall()[0][0]
    assert wh.forget_project(project) == n
    con = wh.connect()
    assert con.execute("SELECT count(*) FROM builds").fetchall() == [(total - n,)]
    assert con.execute("SELECT count(*) FROM builds WHERE project = ?", [project]).fetchall() == [
        (0,)
    ]
    # Its slug is gone from `projects` too; the others stay.
    names = {r[0] for r in con.execute("SELECT project FROM projects").fetchall()}
    assert project not in names
    assert names == {r[0] for r in con.execute("SELECT DISTINCT project FROM builds").fetchall()}
    # Monthly counts were recounted without the project.
    direct = con.execute(
        "SELECT count(*) FROM build_packages WHERE ecosystem = 'apt' AND scope = 'all'"
    ).fetchall()[0][0]
    assert con.execute(
        "SELECT sum(builds) FROM monthly_packages WHERE ecosystem = 'apt' AND scope = 'all'"
    ).fetchall() == [(direct,)]
    # A tombstoned project's documents are never imported.
    other = con.execute("SELECT project FROM builds LIMIT 1").fetchall()[0][0]
    fresh = open_warehouse(str(wh.store.base) + "-fresh")
    lake.storage.put(f"telemetry/forgotten/{other}.json", b"{}")
    s = fresh.import_lake(lake)
    assert s.forgotten > 0
    assert fresh.connect().execute(
        "SELECT count(*) FROM builds WHERE project = ?", [other]
    ).fetchall() == [(0,)]
    forget_project(lake, project, datetime.now(UTC))


def test_progress_bar_renders_documents_per_second(tmp_path, lake, capsys):
    code, out, err = run(
        capsys, "import", "--progress", "--lake", str(tmp_path / "lake"),
        "--warehouse", str(tmp_path / "wh"),
    )  # fmt: skip
    assert code == 0 and out.startswith("imported ")
    assert "documents/s" in err  # the bar (forced on; by default only on a terminal)
    code, out, err = run(
        capsys, "import", "--lake", str(tmp_path / "lake"), "--warehouse", str(tmp_path / "wh")
    )
    assert code == 0 and err == ""  # not a terminal: quiet
