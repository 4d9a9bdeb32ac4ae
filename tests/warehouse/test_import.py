from __future__ import annotations

import json
from collections import defaultdict
from datetime import datetime

import pyarrow.parquet as pq
import pytest

from buildcensus.lake.keys import BUILDS
from buildcensus.versions import sort_key
from buildcensus.warehouse import TABLES, duck_columns, open_warehouse
from conftest import fill, new_lake, snapshot


def test_empty_warehouse_has_every_view_with_its_columns(wh):
    con = wh.connect()
    for table in TABLES:
        assert con.execute(f"SELECT count(*) FROM {table}").fetchall() == [(0,)]
        cols = con.execute(f"DESCRIBE {table}").fetchall()
        assert [(c[0], c[1]) for c in cols] == duck_columns(table)
    assert con.execute("SELECT count(*) FROM build_packages").fetchall() == [(0,)]
    assert wh.last_import_time() is None


def test_import_builds_sets_and_duplicates(lake, wh, records):
    seen: list[tuple[int, int]] = []
    s = wh.import_lake(lake, progress=lambda done, total: seen.append((done, total)))
    keys = list(lake.iter_keys())
    assert s.documents == len(keys) == len(records)
    assert s.duplicates == sum(1 for k in keys if "/duplicates/" in k) > 0
    assert s.builds + s.duplicates == len(records) and not s.quarantined
    assert seen[-1] == (len(keys), len(keys))
    con = wh.connect()
    assert con.execute("SELECT count(*) FROM builds").fetchall() == [(len(records),)]
    # A duplicate row carries its own id/time and the original's content and set ids.
    rows = con.execute(
        """SELECT d.build_id, o.build_id, d.pip_all_set = o.pip_all_set, d.config_id = o.config_id,
                  d.project = o.project, d.start >= o.start
           FROM builds d JOIN builds o ON d.duplicate_of = o.key"""
    ).fetchall()
    assert len(rows) == s.duplicates
    assert all(r[0] != r[1] and r[2] and r[3] and r[4] and r[5] for r in rows)
    # Every referenced set exists; a set id appears once per (set, package) list.
    for col, table, idcol in [
        ("pip_all_set", "package_sets", "set_id"),
        ("apt_all_set", "package_sets", "set_id"),
        ("config_id", "configs", "config_id"),
        ("doctool_set", "doctool_sets", "set_id"),
        ("tools_set", "tools_sets", "set_id"),
    ]:
        missing = con.execute(
            f"SELECT count(*) FROM builds WHERE {col} IS NOT NULL AND {col} NOT IN "
            f"(SELECT {idcol} FROM {table})"
        ).fetchall()
        assert missing == [(0,)], col
    # The package rows of a build are exactly its record's list.
    rec = next(r for r in records if r["packages"].get("conda"))
    got = con.execute(
        "SELECT name, version FROM build_packages WHERE build_id = ? AND ecosystem = 'pip' "
        "AND scope = 'all' ORDER BY name",
        [str(rec["build"]["id"])],
    ).fetchall()
    assert got == sorted((p["name"], p["version"]) for p in rec["packages"]["pip"]["all"])
    conda = con.execute(
        "SELECT count(*) FROM build_packages WHERE build_id = ? AND ecosystem = 'conda' "
        "AND channel = 'conda-forge'",
        [str(rec["build"]["id"])],
    ).fetchall()[0][0]
    assert conda == len(rec["packages"]["conda"]["all"])
    # Package lists are stored once: far fewer set rows than build x package rows.
    n_sets = con.execute("SELECT count(*) FROM package_sets").fetchall()[0][0]
    n_long = con.execute("SELECT count(*) FROM build_packages").fetchall()[0][0]
    assert n_sets * 3 < n_long
    # Hive partitions by month of the build start.
    parts = wh.state().parts["builds"]
    assert all("/year=2026/month=" in p for p in parts) and len(parts) == 2
    assert wh.last_import_time() is not None


def test_config_tables(lake, wh, records):
    wh.import_lake(lake)
    con = wh.connect()
    rec = records[0]
    (cid,) = con.execute(
        "SELECT config_id FROM builds WHERE build_id = ?", [str(rec["build"]["id"])]
    ).fetchall()[0]
    user, final = con.execute(
        "SELECT user_json, final_json FROM configs WHERE config_id = ?", [cid]
    ).fetchall()[0]
    assert json.loads(user) == rec["config"]["user"]
    assert json.loads(final) == rec["config"]["final"]
    keys = {
        k
        for (k,) in con.execute("SELECT key FROM config_keys WHERE config_id = ?", [cid]).fetchall()
    }
    assert {"version", "build", "build.os", "build.tools.python"} <= keys
    vals = dict(
        (k, (v, u, s))
        for k, v, u, s in con.execute(
            "SELECT key, value, user_set, source FROM config_values WHERE config_id = ?", [cid]
        ).fetchall()
    )
    assert vals["build.os"] == (rec["config"]["user"]["build"]["os"], True, "final")
    assert vals["formats"] == ("[]", False, "final")


def test_versions_dimension_uses_sort_keys(lake, wh):
    wh.import_lake(lake)
    con = wh.connect()
    rows = con.execute("SELECT ecosystem, version, sort_key, valid FROM versions").fetchall()
    assert {r[0] for r in rows} == {"pip", "apt", "conda", "python"}
    assert len({(r[0], r[1]) for r in rows}) == len(rows)
    assert all(r[2] == sort_key(r[0], r[1]) and r[3] for r in rows)
    ordered = con.execute(
        "SELECT version FROM versions WHERE ecosystem = 'pip' AND version LIKE '2.0.0%' "
        "OR ecosystem='pip' AND version IN ('1.26.4', '2.1.3') ORDER BY sort_key"
    ).fetchall()
    assert [v for (v,) in ordered] == ["1.26.4", "2.0.0b1", "2.0.0", "2.1.3"]


def test_monthly_packages_match_records(lake, wh, records):
    wh.import_lake(lake)
    expected_builds: dict[tuple, int] = defaultdict(int)
    expected_projects: dict[tuple, set] = defaultdict(set)
    for r in records:
        start = datetime.fromisoformat(r["build"]["start"])
        for p in r["packages"]["pip"]["all"]:
            k = (start.year, start.month, p["name"].lower(), p["version"])
            expected_builds[k] += 1
            expected_projects[k].add(r["project"]["slug"])
    got = (
        wh.connect()
        .execute(
            "SELECT year, month, normalized, version, builds, projects FROM monthly_packages "
            "WHERE ecosystem = 'pip' AND scope = 'all'"
        )
        .fetchall()
    )
    assert {(y, m, n, v): b for y, m, n, v, b, _ in got} == dict(expected_builds)
    assert {(y, m, n, v): p for y, m, n, v, _, p in got} == {
        k: len(v) for k, v in expected_projects.items()
    }


def test_incremental_and_idempotent(tmp_path, records):
    half = len(records) // 2
    lk = new_lake(tmp_path / "lake")
    fill(lk, records[:half])
    wh = open_warehouse(str(tmp_path / "wh"))
    first = wh.import_lake(lk)
    assert first.documents == half
    fill(lk, records[half:])
    second = wh.import_lake(lk)
    assert second.documents == len(records) - half and second.skipped == half
    manifests = sorted((tmp_path / "wh" / "_manifest").iterdir())
    again = wh.import_lake(lk)
    assert again.documents == 0 and again.runs == []
    assert sorted((tmp_path / "wh" / "_manifest").iterdir()) == manifests  # nothing written
    clean = open_warehouse(str(tmp_path / "clean"))
    clean.import_lake(lk)
    assert snapshot(wh) == snapshot(clean)
    small = open_warehouse(str(tmp_path / "small"))
    s = small.import_lake(lk, batch_size=5)
    assert len(s.runs) == -(-len(records) // 5)
    assert snapshot(small) == snapshot(clean)
    # More than 16 runs: the small parts were merged (same rows, fewer files).
    state = small.state()
    assert any(r["kind"] == "compact" for r in state.runs)
    assert all(len(state.files(t)) <= 16 for t in ("package_sets", "versions", "configs"))


def test_set_ids_in_exactly_one_part(lake, wh):
    wh.import_lake(lake, batch_size=20)
    seen: dict[str, str] = {}
    for rel in wh.state().parts["package_sets"]:
        for sid in set(pq.read_table(wh.store.path(rel), columns=["set_id"])["set_id"].to_pylist()):
            assert sid not in seen, (sid, rel, seen.get(sid))
            seen[sid] = rel


def test_quarantine_bad_documents(tmp_path, lake, wh, capsys):
    root = tmp_path / "lake"
    day = root / BUILDS / "2026" / "10"
    (day / "2026-10-02-900001.json").write_text("{not json")
    (day / "2026-10-02-900002.json").write_text("[1, 2]")
    good = json.loads(next(day.glob("2026-10-*.json")).read_text())
    (day / "2026-10-02-900003.json").write_text(
        json.dumps({**good, "build": {**good["build"], "id": 900003, "length": "long"}})
    )
    (day / "2026-10-02-900004.json").write_text(
        json.dumps({**good, "packages": {**good["packages"], "pip": {"all": {"$blob": "0" * 64}}}})
    )
    dup = root / "telemetry" / "duplicates" / "2026" / "10"
    dup.mkdir(parents=True, exist_ok=True)
    (dup / "2026-10-02-900005.json").write_text(
        json.dumps(
            {
                "duplicate_of": "telemetry/builds/2026/10/2026-10-02-nope.json",
                "build": {"id": 900005, "start": "2026-10-02T00:00:00Z"},
            }
        )
    )
    s = wh.import_lake(lake)
    reasons = {q.key.rsplit("-", 1)[-1]: q.reason for q in s.quarantined}
    assert set(reasons) == {f"90000{i}.json" for i in range(1, 6)}
    assert "malformed JSON" in reasons["900001.json"]
    assert "not a JSON object" in reasons["900002.json"]
    assert "build.length" in reasons["900003.json"]
    assert "blob" in reasons["900004.json"]
    assert "original" in reasons["900005.json"]
    assert s.documents - len(s.quarantined) == len(list(lake.iter_keys())) - 5
    listed = wh.quarantine()
    assert [q["key"] for q in listed] == sorted(q.key for q in s.quarantined)
    assert all(q["reason"] and q["run_id"] for q in listed)
    # They are not retried by default, and a fixed document imports on --retry-quarantined.
    assert wh.import_lake(lake).documents == 0
    (day / "2026-10-02-900003.json").write_text(
        json.dumps({**good, "build": {**good["build"], "id": 900003, "length": 3.0}})
    )
    retry = wh.import_lake(lake, retry_quarantined=True)
    assert retry.documents == 5 and len(retry.quarantined) == 4
    assert "telemetry/builds/2026/10/2026-10-02-900003.json" not in {
        q["key"] for q in wh.quarantine()
    }


def test_garbage_of_uncommitted_runs_is_ignored_and_removed(lake, wh, tmp_path):
    wh.import_lake(lake)
    before = snapshot(wh)
    stray = (
        tmp_path
        / "wh"
        / "builds"
        / "year=2026"
        / "month=10"
        / "part-99999999T000000000000Z-dead.parquet"
    )
    committed = tmp_path / "wh" / wh.state().files("builds")[0]
    stray.write_bytes(committed.read_bytes())  # an uncommitted copy: would double the rows
    assert snapshot(wh) == before  # readers only see committed parts
    assert wh.import_lake(lake).documents == 0
    assert not stray.exists()  # the next import (even one with nothing new) removes it
    assert snapshot(wh) == before


def test_lock_rejects_a_second_writer(lake, wh):
    from buildcensus.errors import WarehouseError

    with wh.store.lock(), pytest.raises(WarehouseError, match="another import"):
        wh.import_lake(lake)
