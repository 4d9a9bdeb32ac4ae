"""Bulk export: tables as Parquet or CSV files, or self-contained JSON-lines records."""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import orjson

from buildcensus.errors import BuildcensusError, UsageError, WarehouseError
from buildcensus.lake import Lake
from buildcensus.warehouse._schema import BUILD_SET_COLUMNS, TABLES
from buildcensus.warehouse._sql import quote

if TYPE_CHECKING:
    from buildcensus.warehouse import Warehouse


def parse_when(text: str | None, default_now: bool = False) -> datetime | None:
    """`YYYY-MM-DD` or an ISO 8601 time as naive UTC (None, or now, when not given)."""
    if text is None:
        return datetime.now(UTC).replace(tzinfo=None) if default_now else None
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(f"not a date or ISO time: {text!r} (expected YYYY-MM-DD)") from None
    if when.tzinfo is not None:
        when = when.astimezone(UTC).replace(tzinfo=None)
    return when


def window_sql(since: datetime | None, until: datetime | None) -> str:
    """WHERE condition on `start` for [since, until)."""
    conds = ["true"]
    if since is not None:
        conds.append(f"start >= TIMESTAMP {quote(since.isoformat(sep=' '))}")
    if until is not None:
        conds.append(f"start < TIMESTAMP {quote(until.isoformat(sep=' '))}")
    return " AND ".join(conds)


def _month_sql(since: datetime | None, until: datetime | None) -> str:
    conds = ["true"]
    if since is not None:
        conds.append(f"year * 12 + month >= {since.year * 12 + since.month}")
    if until is not None:
        conds.append(f"year * 12 + month <= {until.year * 12 + until.month}")
    return " AND ".join(conds)


def table_queries(since: datetime | None, until: datetime | None) -> dict[str, str]:
    """SELECT per exported table: the window's builds and the rows they refer to."""
    sets = " UNION ".join(f"SELECT {c} FROM _sel" for c in BUILD_SET_COLUMNS)
    cfg = "SELECT config_id FROM _sel"
    return {
        "builds": "SELECT * FROM _sel ORDER BY start, key",
        "package_sets": f"SELECT * FROM package_sets WHERE set_id IN ({sets})",
        "configs": f"SELECT * FROM configs WHERE config_id IN ({cfg})",
        "config_keys": f"SELECT * FROM config_keys WHERE config_id IN ({cfg})",
        "config_values": f"SELECT * FROM config_values WHERE config_id IN ({cfg})",
        "doctool_sets": "SELECT * FROM doctool_sets WHERE set_id IN (SELECT doctool_set FROM _sel)",
        "tools_sets": "SELECT * FROM tools_sets WHERE set_id IN (SELECT tools_set FROM _sel)",
        "versions": "SELECT * FROM versions",
        "monthly_packages": f"SELECT * FROM monthly_packages WHERE {_month_sql(since, until)}",
    }


def export_warehouse(
    wh: Warehouse,
    fmt: str,
    out: str,
    since: datetime | None = None,
    until: datetime | None = None,
    lake: Lake | None = None,
) -> int:
    """Export builds in [since, until); returns the number of builds written."""
    if fmt not in ("parquet", "csv", "jsonl"):
        raise UsageError(f"unknown export format {fmt!r} (parquet, csv, jsonl)")
    con = wh.connect()
    try:
        con.execute(
            f"CREATE TEMP TABLE _sel AS SELECT * FROM builds WHERE {window_sql(since, until)}"
        )
        if fmt == "jsonl":
            if lake is None:
                raise UsageError("jsonl export needs the lake (records are re-hydrated from it)")
            keys = [
                k for (k,) in con.execute("SELECT key FROM _sel ORDER BY start, key").fetchall()
            ]
            return _write_jsonl(lake, keys, out)
        target = Path(out)
        if target.exists() and not target.is_dir():
            raise UsageError(f"{out} exists and is not a directory")
        target.mkdir(parents=True, exist_ok=True)
        options = "FORMAT parquet, COMPRESSION zstd" if fmt == "parquet" else "FORMAT csv, HEADER"
        for table, sql in table_queries(since, until).items():
            assert table in TABLES
            final = target / f"{table}.{fmt}"
            tmp = target / f".tmp-{table}.{fmt}"
            con.execute(f"COPY ({sql}) TO {quote(str(tmp))} ({options})")
            os.replace(tmp, final)
        return con.execute("SELECT count(*) FROM _sel").fetchall()[0][0]
    finally:
        con.close()


def _write_jsonl(lake: Lake, keys: list[str], out: str) -> int:
    """One full record per line, references re-hydrated from the lake."""
    f = sys.stdout.buffer if out == "-" else None
    tmp = None
    if f is None:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        tmp = f"{out}.tmp-{os.getpid()}"
        f = open(tmp, "wb")  # noqa: SIM115
    n = 0
    try:
        for key in keys:
            try:
                record = lake.load(key)
            except BuildcensusError as exc:
                raise WarehouseError(f"cannot re-hydrate {key} from the lake: {exc}") from None
            f.write(orjson.dumps(record) + b"\n")
            n += 1
        f.flush()
    except BaseException:
        if tmp:
            f.close()
            os.unlink(tmp)
        raise
    if tmp:
        f.close()
        os.replace(tmp, out)
    return n
