"""Retention: remove raw documents and warehouse rows older than a cut; keep monthly counts."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc

from buildcensus.errors import BuildcensusError, UsageError
from buildcensus.lake import HEAVY_PATHS, Lake
from buildcensus.lake.keys import BLOBS, BUILDS, DEDUP
from buildcensus.warehouse._import import parse_start
from buildcensus.warehouse._monthly import aggregate
from buildcensus.warehouse._schema import (
    BUILD_SET_COLUMNS,
    SCHEMAS,
    SET_ID_COLUMN,
    TABLES,
)
from buildcensus.warehouse._sql import create_views, new_connection
from buildcensus.warehouse._store import (
    State,
    Store,
    collect_garbage,
    commit_replacing,
    load_state,
    month_of_path,
    new_run_id,
)

if TYPE_CHECKING:
    from buildcensus.warehouse import Warehouse

_AGE = re.compile(r"^\s*(\d+)\s*([hdw])\s*$")
_UNITS = {"h": "hours", "d": "days", "w": "weeks"}


@dataclass
class PruneSummary:
    """What a prune removed."""

    lake_documents: int = 0
    blobs: int = 0
    markers: int = 0
    rows: int = 0


def parse_age(text: str) -> timedelta:
    """`180d`, `26w` or `48h` as a timedelta."""
    m = _AGE.match(text)
    if not m or int(m.group(1)) <= 0:
        raise UsageError(f"invalid age {text!r}: expected a number and a unit (e.g. 180d, 26w)")
    return timedelta(**{_UNITS[m.group(2)]: int(m.group(1))})


def _key_day(key: str) -> date | None:
    try:
        return date.fromisoformat(key.rsplit("/", 1)[-1][:10])
    except ValueError:
        return None


def prune_lake(lake: Lake, cut: datetime, summary: PruneSummary) -> None:
    """Delete build/duplicate documents started before `cut`, their dedup markers and blobs."""
    cut_day = cut.date()
    for key in list(lake.iter_keys()):
        day = _key_day(key)
        if day is None or day > cut_day:
            continue
        if day == cut_day:
            try:
                start = parse_start(lake.read_raw(key).get("build", {}).get("start"))
            except Exception:  # an unreadable document on the cut day stays for the import
                continue
            if start >= cut:
                continue
        lake.storage.delete(key)
        summary.lake_documents += 1
    for marker in list(lake.storage.list(DEDUP)):
        parts = marker[len(DEDUP) + 1 :].split("/")
        try:
            day = date(int(parts[0]), int(parts[1]), int(parts[2]))
        except (ValueError, IndexError):
            continue
        if day < cut_day:
            lake.storage.delete(marker)
            summary.markers += 1
    referenced: set[str] = set()
    for key in lake.iter_keys():
        if not key.startswith(BUILDS + "/"):
            continue
        try:
            doc = lake.read_raw(key)
        except BuildcensusError:
            continue
        for path in HEAVY_PATHS:
            value = doc
            for p in path:
                value = value.get(p) if isinstance(value, dict) else None
            if isinstance(value, dict) and isinstance(value.get("$blob"), str):
                referenced.add(value["$blob"])
    for rel in list(lake.storage.list(BLOBS)):
        if rel.rsplit("/", 1)[-1].removesuffix(".json") not in referenced:
            lake.storage.delete(rel)
            summary.blobs += 1
    lake._known_blobs.clear()


KeepFn = Callable[[tuple[int, int], pa.Table | None], pa.Table | None]


def rewrite_builds(wh: Warehouse, keep: KeepFn, kind: str, freeze: bool, **extra: Any) -> int:
    """Remove builds rows (and sets no build refers to any more) as one committed run.

    `keep(month, None)` returns None to leave a month's parts alone without reading them (any
    table otherwise); `keep(month, table)` returns the rows to keep. With `freeze`, the months
    keep their monthly counts (retention); otherwise they are recounted (forgetting).
    """
    store = wh.store
    with store.lock():
        state = load_state(store)
        collect_garbage(store, state, TABLES)
        aggregate(store, state)  # count every build before rows go
        run_id = new_run_id()
        added: dict[str, list[str]] = {}
        removed: list[str] = []
        months: set[tuple[int, int]] = set()
        rows = 0
        for rel in state.files("builds"):
            month = month_of_path(rel)
            if keep(month, None) is None:
                continue
            table = store.read_table(rel)
            kept = keep(month, table)
            if kept.num_rows == table.num_rows:
                continue
            rows += table.num_rows - kept.num_rows
            months.add(month)
            removed.append(rel)
            if kept.num_rows:
                new_rel = rel.rsplit("/", 1)[0] + f"/part-{run_id}.parquet"
                store.write_table(new_rel, kept)
                added.setdefault("builds", []).append(new_rel)
        if not removed:
            return 0
        remaining = [r for r in state.files("builds") if r not in removed]
        remaining += added.get("builds", [])
        _drop_unused_sets(store, state, remaining, run_id, added, removed)
        run = {
            "run_id": run_id,
            "kind": kind,
            "started": datetime.now(UTC).isoformat(),
            "finished": datetime.now(UTC).isoformat(),
            "keys": [],
            "added": added,
            "removed": removed,
            **extra,
        }
        if freeze:
            run["frozen_months"] = sorted(months)
        commit_replacing(store, state, run)
        if not freeze:
            for month in months:
                state.pending.setdefault(month, [])
            aggregate(store, state)
        return rows


def _drop_unused_sets(
    store: Store,
    state: State,
    builds: list[str],
    run_id: str,
    added: dict[str, list[str]],
    removed: list[str],
) -> None:
    """Compact each set table to the sets the remaining builds refer to."""
    con = new_connection(threads=2)
    store.prepare(con)
    try:
        files = {t: [store.os_path(r) for r in state.files(t)] for t in TABLES}
        files["builds"] = [store.os_path(r) for r in builds]
        create_views(con, files)
        refs = {
            "package_sets": " UNION ".join(f"SELECT {c} FROM builds" for c in BUILD_SET_COLUMNS),
            "doctool_sets": "SELECT doctool_set FROM builds",
            "tools_sets": "SELECT tools_set FROM builds",
            "projects": "SELECT project FROM builds",
        }
        for t in ("configs", "config_keys", "config_values"):
            refs[t] = "SELECT config_id FROM builds"
        for table, ref_sql in refs.items():
            col = SET_ID_COLUMN[table]
            parts = state.files(table)
            if not parts:
                continue
            used = f"SELECT * FROM ({ref_sql}) AS r(id) WHERE id IS NOT NULL"
            stale = con.execute(
                f"SELECT count(*) FROM {table} WHERE {col} NOT IN ({used})"
            ).fetchall()[0][0]
            if not stale:
                continue
            kept = con.sql(f"SELECT * FROM {table} WHERE {col} IN ({used})").to_arrow_table()
            removed += parts
            if kept.num_rows:
                rel = f"{table}/part-{run_id}.parquet"
                store.write_table(rel, kept.cast(SCHEMAS[table]))
                added.setdefault(table, []).append(rel)
    finally:
        con.close()


def prune_warehouse(wh: Warehouse, cut: datetime) -> int:
    """Drop builds rows before `cut` and unused sets; the months keep their monthly counts."""
    cut_month = (cut.year, cut.month)

    def keep(month: tuple[int, int], table: pa.Table | None) -> pa.Table | None:
        if month > cut_month:
            return None
        if table is None:
            return pa.table({})  # read this part
        if month < cut_month:
            return table.slice(0, 0)
        return table.filter(pc.greater_equal(table["start"], cut))

    return rewrite_builds(wh, keep, "prune", freeze=True, cut=cut.isoformat())


def forget_project_rows(wh: Warehouse, project: str) -> int:
    """Drop every builds row of a project (and sets only it used); recount its months."""

    def keep(month: tuple[int, int], table: pa.Table | None) -> pa.Table | None:
        if table is None:
            return pa.table({})
        return table.filter(pc.not_equal(table["project"], project))

    return rewrite_builds(wh, keep, "forget", freeze=False, project=project)


def prune_all(lake: Lake, wh: Warehouse, cut: datetime) -> PruneSummary:
    """Prune the lake, then the warehouse (a crash in between leaves rows the next prune drops)."""
    if cut.tzinfo is not None:
        cut = cut.astimezone(UTC).replace(tzinfo=None)
    summary = PruneSummary()
    prune_lake(lake, cut, summary)
    summary.rows = prune_warehouse(wh, cut)
    return summary
