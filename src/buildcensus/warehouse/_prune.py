"""Retention: remove raw documents and warehouse rows older than a cut; keep monthly counts."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING

import pyarrow.compute as pc

from buildcensus.errors import BuildcensusError, UsageError
from buildcensus.lake import HEAVY_PATHS, Lake
from buildcensus.lake.keys import BLOBS, BUILDS, DEDUP
from buildcensus.warehouse._import import parse_start
from buildcensus.warehouse._monthly import aggregate
from buildcensus.warehouse._schema import BUILD_SET_COLUMNS, SCHEMAS, SET_ID_COLUMN, TABLES
from buildcensus.warehouse._sql import create_views, new_connection
from buildcensus.warehouse._store import (
    collect_garbage,
    commit_run,
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


def prune_warehouse(wh: Warehouse, cut: datetime, summary: PruneSummary) -> None:
    """Drop builds rows before `cut` and sets no build refers to; monthly counts stay."""
    store = wh.store
    with store.lock():
        state = load_state(store)
        collect_garbage(store, state, TABLES)
        aggregate(store, state)  # count every build before rows go
        run_id = new_run_id()
        cut_month = (cut.year, cut.month)
        added: dict[str, list[str]] = {}
        removed: list[str] = []
        frozen: set[tuple[int, int]] = set()
        for rel in state.parts.get("builds", []):
            month = month_of_path(rel)
            if month > cut_month:
                continue
            table = store.read_table(rel)
            keep = (
                table.filter(pc.greater_equal(table["start"], cut)) if month == cut_month else None
            )
            kept = keep.num_rows if keep is not None else 0
            if kept == table.num_rows:
                continue
            summary.rows += table.num_rows - kept
            frozen.add(month)
            removed.append(rel)
            if kept:
                new_rel = rel.rsplit("/", 1)[0] + f"/part-{run_id}.parquet"
                store.write_table(new_rel, keep)
                added.setdefault("builds", []).append(new_rel)
        if not removed:
            return
        remaining = [r for r in state.files("builds") if r not in removed]
        remaining += added.get("builds", [])
        con = new_connection(threads=2)
        store.prepare(con)
        try:
            files = {t: [store.os_path(r) for r in state.parts.get(t, [])] for t in TABLES}
            files["builds"] = [store.os_path(r) for r in remaining]
            create_views(con, files)
            refs = {
                "package_sets": " UNION ".join(
                    f"SELECT {c} FROM builds" for c in BUILD_SET_COLUMNS
                ),
                "doctool_sets": "SELECT doctool_set FROM builds",
                "tools_sets": "SELECT tools_set FROM builds",
            }
            for t in ("configs", "config_keys", "config_values"):
                refs[t] = "SELECT config_id FROM builds"
            for table, ref_sql in refs.items():
                col = SET_ID_COLUMN[table]
                parts = state.files(table)
                if not parts:
                    continue
                stale = con.execute(
                    f"SELECT count(*) FROM {table} WHERE {col} NOT IN ({ref_sql} "
                    f"EXCEPT SELECT NULL)"
                ).fetchall()[0][0]
                if not stale:
                    continue
                kept_rows = con.sql(
                    f"SELECT * FROM {table} WHERE {col} IN ({ref_sql})"
                ).to_arrow_table()
                removed += parts
                if kept_rows.num_rows:
                    rel = f"{table}/part-{run_id}.parquet"
                    store.write_table(rel, kept_rows.cast(SCHEMAS[table]))
                    added.setdefault(table, []).append(rel)
        finally:
            con.close()
        commit_run(
            store,
            {
                "run_id": run_id,
                "kind": "prune",
                "started": datetime.now(UTC).isoformat(),
                "finished": datetime.now(UTC).isoformat(),
                "cut": cut.isoformat(),
                "keys": [],
                "added": added,
                "removed": removed,
                "frozen_months": sorted(frozen),
            },
        )
        for rel in removed:
            store.delete(rel)


def prune_all(lake: Lake, wh: Warehouse, cut: datetime) -> PruneSummary:
    """Prune the lake, then the warehouse (a crash in between leaves rows the next prune drops)."""
    if cut.tzinfo is not None:
        cut = cut.astimezone(UTC).replace(tzinfo=None)
    summary = PruneSummary()
    prune_lake(lake, cut, summary)
    prune_warehouse(wh, cut, summary)
    return summary
