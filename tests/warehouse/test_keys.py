"""BIGINT key columns: computed from the identifiers, and added to warehouses written before."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime

import pyarrow.parquet as pq
import pytest

from buildcensus.errors import WarehouseError
from buildcensus.reports import make_params, run_report
from buildcensus.warehouse import open_warehouse
from buildcensus.warehouse._keys import KEY_COLUMNS, key_of
from conftest import snapshot


def test_keys_match_their_identifiers(lake, wh):
    wh.import_lake(lake)
    con = wh.connect()
    try:
        for table, pairs in KEY_COLUMNS.items():
            for key, source in pairs:
                rows = con.execute(f"SELECT DISTINCT {source}, {key} FROM {table}").fetchall()
                assert rows, (table, key)
                assert all((k is None) == (s is None) for s, k in rows)
                assert all(k == key_of(s) for s, k in rows if s is not None)
        # distinct identifiers, distinct keys (no collision in this data)
        n = con.execute("SELECT COUNT(DISTINCT project), COUNT(DISTINCT project_key) FROM builds")
        a, b = n.fetchone()
        assert a == b > 1
    finally:
        con.close()


def test_key_of_is_stable():
    # The key is part of the stored layout: it must never change between versions.
    assert key_of("docs") == key_of("docs")
    assert key_of("docs") != key_of("docs2")
    assert -(2**63) <= key_of("x") < 2**63
    assert key_of("read-the-docs") == int.from_bytes(
        hashlib.blake2b(b"read-the-docs", digest_size=8).digest(), "big", signed=True
    )


def _drop_projects(root, layout: int | None) -> None:
    """Remove the `projects` table (layout 3) and stamp the manifests with `layout`."""
    for f in (root / "projects").glob("*.parquet"):
        f.unlink()
    for m in (root / "_manifest").glob("*.json"):
        run = json.loads(m.read_text())
        run.get("added", {}).pop("projects", None)
        run.pop("layout", None)
        if layout is not None:
            run["layout"] = layout
        m.write_text(json.dumps(run))


def _make_legacy(root) -> None:
    """Turn an imported warehouse into what buildcensus wrote before layout 2."""
    _drop_projects(root, None)
    for f in root.rglob("*.parquet"):
        t = pq.read_table(f)
        keys = [k for pairs in KEY_COLUMNS.values() for k, _ in pairs]
        t = t.drop_columns([c for c in t.column_names if c in keys])
        pq.write_table(t, f)


def test_import_upgrades_a_warehouse_without_keys(tmp_path, lake):
    wh = open_warehouse(str(tmp_path / "wh"))
    wh.import_lake(lake, batch_size=40)
    before = snapshot(wh)
    _make_legacy(tmp_path / "wh")
    old = open_warehouse(str(tmp_path / "wh"))
    with pytest.raises(WarehouseError, match="run `buildcensus import` once to upgrade"):
        old.connect()
    with pytest.raises(WarehouseError, match="upgrade"):
        old.prune(datetime(2000, 1, 1))
    summary = old.import_lake(lake)
    assert summary.documents == 0  # nothing new: only the upgrade run
    assert any(r["kind"] == "upgrade" for r in old.state().runs)
    assert snapshot(old) == before
    con = old.connect()
    try:
        params = make_params(since="2000-01-01", until="2100-01-01")
        assert run_report("breakdown", make_params(since="2000-01-01", until="2100-01-01",
                                                   by="python"), con)  # fmt: skip
        assert run_report("build-time", params, con)
    finally:
        con.close()


def test_import_adds_the_projects_table_to_a_layout_2_warehouse(tmp_path, lake):
    wh = open_warehouse(str(tmp_path / "wh"))
    wh.import_lake(lake, batch_size=40)
    before = snapshot(wh)
    assert len(before["projects"]) == len({r[3] for r in before["builds"]}) > 1
    _drop_projects(tmp_path / "wh", 2)
    old = open_warehouse(str(tmp_path / "wh"))
    with pytest.raises(WarehouseError, match="no projects table.*buildcensus import"):
        old.connect()
    parts = {t: old.state().files(t) for t in ("builds", "package_sets")}
    summary = old.import_lake(lake)
    assert summary.documents == 0
    upgrade = [r for r in old.state().runs if r["kind"] == "upgrade"]
    assert len(upgrade) == 1 and upgrade[0]["removed"] == []  # no part rewritten
    assert list(upgrade[0]["added"]) == ["projects"]
    assert {t: old.state().files(t) for t in parts} == parts
    assert snapshot(old) == before
    assert old.import_lake(lake).documents == 0  # nothing left to upgrade
    assert sum(r["kind"] == "upgrade" for r in old.state().runs) == 1


def test_projects_table_lists_each_project_once_across_runs(tmp_path, lake):
    wh = open_warehouse(str(tmp_path / "wh"))
    wh.import_lake(lake, batch_size=7)  # many runs, projects repeat across them
    con = wh.connect()
    try:
        rows = con.execute("SELECT project, project_key FROM projects").fetchall()
        builds = {r[0] for r in con.execute("SELECT DISTINCT project FROM builds").fetchall()}
    finally:
        con.close()
    assert sorted(p for p, _ in rows) == sorted(builds)
    assert all(k == key_of(p) for p, k in rows)
