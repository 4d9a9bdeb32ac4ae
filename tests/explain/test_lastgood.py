"""The last-good search: across a project's versions, or within one; warehouse and lake sources."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from typing import Any

import duckdb
import pytest

from buildcensus.cli import main
from buildcensus.errors import NotFoundError
from buildcensus.explain import BuildRef, builds_from_warehouse, last_good_diff, pick_last_good
from buildcensus.lake import open_lake
from buildcensus.record import parse_record

# (id, project, version, day, success): "latest" broke on day 6; "stable" built fine on day 5.
HISTORY = [
    (1, "demo", "latest", 1, True),
    (2, "demo", "stable", 2, True),
    (3, "demo", "latest", 3, True),
    (4, "demo", "latest", 4, False),
    (5, "demo", "stable", 5, True),
    (6, "demo", "latest", 6, False),
    (7, "demo", "stable", 7, None),  # success unknown: ignored
    (8, "other", "latest", 8, False),
]


def refs() -> list[BuildRef]:
    return [
        BuildRef(str(i), f"k/{i}", p, v, datetime(2026, 11, d, tzinfo=UTC), s)
        for i, p, v, d, s in HISTORY
    ]


@pytest.mark.parametrize(
    ("project", "version", "good", "failed"),
    [
        ("demo", None, "5", "6"),  # across versions: stable's build 5 is the last good one
        ("demo", "latest", "3", "6"),  # within latest: build 4 failed too, so build 3
        ("demo", "stable", None, None),  # stable never failed
        ("other", None, None, None),  # failed, but never succeeded before
        ("nobody", None, None, None),
    ],
)
def test_pick_last_good(project, version, good, failed):
    if good is None:
        with pytest.raises(NotFoundError):
            pick_last_good(refs(), project, version)
        return
    g, f = pick_last_good(refs(), project, version)
    assert (g.build_id, f.build_id) == (good, failed)


def test_ties_on_start_fall_back_to_numeric_build_id():
    t = datetime(2026, 11, 1, tzinfo=UTC)
    builds = [
        BuildRef("10", "k/10", "p", "latest", t, False),
        BuildRef("9", "k/9", "p", "latest", t, True),
    ]
    g, f = pick_last_good(builds, "p")
    assert (g.build_id, f.build_id) == ("9", "10")


def _records(record_dict: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for i, p, v, d, s in HISTORY:
        r = copy.deepcopy(record_dict)
        r["project"] = {"slug": p}
        r["version"] = {"slug": v}
        r["build"].update(id=i, start=f"2026-11-{d:02d}T10:00:00Z", success=s)
        r["python"] = f"3.{i}"  # every build differs, so none is a same-day duplicate
        out.append(r)
    return out


def test_last_good_diff_from_the_lake_and_the_warehouse(tmp_path, record_dict):
    lake = open_lake(str(tmp_path / "lake"))
    keys = {}
    for rec in _records(record_dict):
        keys[rec["build"]["id"]] = lake.store(parse_record(rec)).key
    diff = last_good_diff(lake, "demo")
    assert diff["last_good"] == {
        "project": "demo",
        "version": None,
        "good": "5",
        "failed": "6",
        "source": "lake",
        "recovered": False,
    }
    assert diff["python"] == {"from": "3.5", "to": "3.6"}
    con = duckdb.connect()
    con.execute(
        "CREATE TABLE builds (build_id VARCHAR, key VARCHAR, project VARCHAR, version VARCHAR, "
        "start TIMESTAMP, success BOOLEAN)"
    )
    for i, p, v, d, s in HISTORY:
        con.execute(
            "INSERT INTO builds VALUES (?, ?, ?, ?, ?, ?)",
            [str(i), keys[i], p, v, datetime(2026, 11, d, 10), s],
        )
    assert [b.build_id for b in builds_from_warehouse(con, "demo", "stable")] == ["2", "5", "7"]
    diff = last_good_diff(lake, "demo", "latest", warehouse=con)
    assert (diff["last_good"]["good"], diff["last_good"]["failed"]) == ("3", "6")
    assert diff["last_good"]["source"] == "warehouse"
    assert diff["build"]["from"]["id"] == 3 and diff["build"]["to"]["success"] is False


def test_last_good_counts_duplicates_and_recovery(tmp_path, record_dict):
    lake = open_lake(str(tmp_path / "lake"))
    recs = _records(record_dict)[:4]  # 1 ok, 2 ok (stable), 3 ok, 4 failed
    for rec in recs:
        lake.store(parse_record(rec))
    again = copy.deepcopy(recs[3])  # the same broken build again, same day: a duplicate
    again["build"].update(id=40, start="2026-11-04T11:00:00Z")
    assert lake.store(parse_record(again)).status == "duplicate"
    fixed = copy.deepcopy(recs[2])
    fixed["build"].update(id=50, start="2026-11-09T10:00:00Z")
    lake.store(parse_record(fixed))
    diff = last_good_diff(lake, "demo", "latest")
    assert diff["last_good"]["failed"] == "40"
    assert diff["last_good"]["good"] == "3"
    assert diff["last_good"]["recovered"] is True


def test_cli_last_good(tmp_path, capsys, record_dict):
    lake = str(tmp_path / "lake")
    lk = open_lake(lake)
    for rec in _records(record_dict):
        lk.store(parse_record(rec))
    args = ["--lake", lake, "--warehouse", str(tmp_path / "none")]
    with pytest.raises(SystemExit) as exc:
        main(["diff", "--project", "demo", "--last-good", "--format", "json", *args])
    out = capsys.readouterr()
    assert exc.value.code == 0, out.err
    data = json.loads(out.out)
    assert data["last_good"]["good"] == "5" and data["python"]["to"] == "3.6"
    with pytest.raises(SystemExit) as exc:
        main(["diff", "--project", "demo", "--version", "stable", "--last-good", *args])
    out = capsys.readouterr()
    assert exc.value.code == 1
    assert out.err.strip() == "error: no failed build of project demo version stable"
