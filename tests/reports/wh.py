"""Hand-made warehouses in the exact Parquet layout of docs/warehouse.md (no importer needed)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from buildcensus.versions import is_prerelease, is_valid, sort_key

S, F, D, T, B, I32, I64 = (
    pa.string(),
    pa.float64(),
    pa.date32(),
    pa.timestamp("us"),
    pa.bool_(),
    pa.int32(),
    pa.int64(),
)
SET_COLS = (
    "pip_user_set",
    "pip_top_level_set",
    "pip_all_set",
    "conda_user_set",
    "conda_all_set",
    "apt_user_set",
    "apt_all_set",
    "doctool_set",
    "tools_set",
)
SCHEMAS: dict[str, list[tuple[str, pa.DataType]]] = {
    "builds": [
        ("build_id", S),
        ("key", S),
        ("duplicate_of", S),
        ("project", S),
        ("project_id", I64),
        ("version", S),
        ("version_id", I64),
        ("organization", S),
        ("start", T),
        ("day", D),
        ("length", F),
        ("success", B),
        ("commit", S),
        ("trigger", S),
        ("python", S),
        ("os", S),
        ("doctool", S),
        ("theme", S),
        ("builder", S),
        ("config_id", S),
        ("config_version", S),
        *[(c, S) for c in SET_COLS],
        ("n_errors", I32),
        ("redactions", I32),
        ("collector_seconds", F),
        ("steps_json", S),
    ],
    "package_sets": [
        ("set_id", S),
        ("ecosystem", S),
        ("scope", S),
        ("name", S),
        ("normalized", S),
        ("version", S),
        ("specifier", S),
        ("channel", S),
    ],
    "configs": [
        ("config_id", S),
        ("version", S),
        ("user_json", S),
        ("final_json", S),
        ("has_file", B),
    ],
    "config_keys": [("config_id", S), ("key", S)],
    "config_values": [("config_id", S), ("key", S), ("value", S), ("user_set", B), ("source", S)],
    "doctool_sets": [("set_id", S), ("kind", S), ("name", S)],
    "tools_sets": [("set_id", S), ("name", S), ("version", S)],
    "projects": [("project", S)],
    "versions": [
        ("ecosystem", S),
        ("version", S),
        ("sort_key", S),
        ("is_prerelease", B),
        ("valid", B),
    ],
    "monthly_packages": [
        ("year", I32),
        ("month", I32),
        ("ecosystem", S),
        ("scope", S),
        ("normalized", S),
        ("version", S),
        ("projects", I64),
        ("builds", I64),
    ],
}
TABLES = tuple(SCHEMAS)


def build_row(build_id: str, project: str, start: str, **kw: Any) -> dict[str, Any]:
    """A `builds` row with defaults; `start` is an ISO time (UTC)."""
    ts = datetime.fromisoformat(start)
    row: dict[str, Any] = {c: None for c, _ in SCHEMAS["builds"]}
    row.update(
        build_id=build_id,
        key=f"telemetry/builds/{ts:%Y/%m/%Y-%m-%d}-{build_id}.json",
        project=project,
        version="latest",
        start=ts,
        day=ts.date(),
        length=60.0,
        success=True,
        trigger="webhook",
        n_errors=0,
        redactions=0,
    )
    row.update(kw)
    return row


class Warehouse:
    """Rows for each table; `write(root)` lays them out as Parquet like `buildcensus import`."""

    def __init__(self) -> None:
        self.rows: dict[str, list[dict[str, Any]]] = {t: [] for t in TABLES}

    def build(self, build_id: str, project: str, start: str, **kw: Any) -> None:
        self.rows["builds"].append(build_row(build_id, project, start, **kw))

    def package_set(self, set_id: str, ecosystem: str, scope: str, pkgs: Iterable[tuple]) -> None:
        from buildcensus.names import normalize

        for name, version in pkgs:
            self.rows["package_sets"].append(
                {
                    "set_id": set_id,
                    "ecosystem": ecosystem,
                    "scope": scope,
                    "name": name,
                    "normalized": normalize(ecosystem, name),
                    "version": version,
                    "specifier": "",
                    "channel": None,
                }
            )

    def config(self, config_id: str, keys: Iterable[str], values: dict[str, str]) -> None:
        self.rows["configs"].append(
            {
                "config_id": config_id,
                "version": "2",
                "user_json": "{}",
                "final_json": "{}",
                "has_file": True,
            }
        )
        self.rows["config_keys"] += [{"config_id": config_id, "key": k} for k in keys]
        self.rows["config_values"] += [
            {"config_id": config_id, "key": k, "value": v, "user_set": True, "source": "final"}
            for k, v in values.items()
        ]

    def doctool_set(self, set_id: str, items: Iterable[tuple[str, str]]) -> None:
        self.rows["doctool_sets"] += [{"set_id": set_id, "kind": k, "name": n} for k, n in items]

    def tools_set(self, set_id: str, tools: dict[str, str]) -> None:
        self.rows["tools_sets"] += [
            {"set_id": set_id, "name": n, "version": v} for n, v in tools.items()
        ]

    def _versions(self) -> list[dict[str, Any]]:
        seen = {(r["ecosystem"], r["version"]) for r in self.rows["package_sets"] if r["version"]}
        seen |= {("python", r["python"]) for r in self.rows["builds"] if r["python"]}
        return [
            {
                "ecosystem": e,
                "version": v,
                "sort_key": sort_key(e, v),
                "is_prerelease": is_prerelease(e, v),
                "valid": is_valid(e, v),
            }
            for e, v in sorted(seen)
        ]

    def write(self, root: Path) -> Path:
        """Write every table under `root` (builds hive-partitioned by year/month)."""
        root.mkdir(parents=True, exist_ok=True)
        self.rows["versions"] = self._versions()
        self.rows["projects"] = [
            {"project": p} for p in sorted({r["project"] for r in self.rows["builds"]})
        ]
        for table, cols in SCHEMAS.items():
            rows = self.rows[table]
            if table == "builds":
                by_month: dict[tuple[int, int], list] = {}
                for r in rows:
                    by_month.setdefault((r["start"].year, r["start"].month), []).append(r)
                for (y, m), part in sorted(by_month.items()):
                    d = root / "builds" / f"year={y}" / f"month={m}"
                    d.mkdir(parents=True, exist_ok=True)
                    pq.write_table(_table(part, cols, table), d / "part-test.parquet")
                continue
            d = root / table
            d.mkdir(parents=True, exist_ok=True)
            pq.write_table(_table(rows, cols, table), d / "part-test.parquet")
        return root


def _table(rows: list[dict[str, Any]], cols: list[tuple[str, pa.DataType]], table: str) -> pa.Table:
    """The rows, plus the BIGINT key columns the importer adds (buildcensus.warehouse._keys)."""
    from buildcensus.warehouse._keys import append_keys

    schema = pa.schema(cols)
    t = pa.Table.from_pylist([{c: r.get(c) for c, _ in cols} for r in rows], schema=schema)
    return append_keys(table, t)


def connect(root: Path) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with one view per table, like `open_warehouse(url).connect()`."""
    con = duckdb.connect()
    for table in TABLES:
        path = root / table
        if table == "builds":
            src = (
                f"read_parquet('{path}/*/*/*.parquet', hive_partitioning=true, "
                "hive_types={'year': INTEGER, 'month': INTEGER})"
            )
        else:
            src = f"read_parquet('{path}/*.parquet')"
        con.execute(f"CREATE VIEW {table} AS SELECT * FROM {src}")
    return con
