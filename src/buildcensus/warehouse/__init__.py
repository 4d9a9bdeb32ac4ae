"""The analytic warehouse: Parquet tables imported from the lake, queried with DuckDB.

Layout and columns: docs/warehouse.md. Every write is a run: parts are written under temp
names and renamed, then the run's manifest (`_manifest/<run id>.json`) is committed last; only
parts named by committed manifests are part of the tables.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import datetime
from typing import Any

import duckdb
import pyarrow.fs as pafs

from buildcensus.errors import WarehouseError
from buildcensus.lake import Lake
from buildcensus.storage_fs import is_s3_url, register_duckdb_filesystem, warehouse_filesystem
from buildcensus.warehouse._import import ImportSummary, QuarantineEntry, import_lake
from buildcensus.warehouse._schema import TABLES, duck_columns
from buildcensus.warehouse._sql import BUILD_PACKAGES_VIEW, create_views, new_connection, quote
from buildcensus.warehouse._store import State, Store, load_state

__all__ = [
    "TABLES",
    "ImportSummary",
    "QuarantineEntry",
    "Warehouse",
    "duck_columns",
    "open_warehouse",
]


class Warehouse:
    """Parquet tables under a root of any `pyarrow.fs.FileSystem`."""

    def __init__(
        self,
        fs: pafs.FileSystem,
        base: str,
        url: str | None = None,
        duckdb_setup: Callable[[duckdb.DuckDBPyConnection], str] | None = None,
    ) -> None:
        self.store = Store(fs, base, url, duckdb_setup)
        self.url = self.store.url

    # ------------------------------------------------------------------ reading

    def state(self, keys: bool = True) -> State:
        """The committed state (runs, live parts, imported keys and quarantine with `keys`)."""
        return load_state(self.store, keys)

    def check_layout(self, state: State | None = None) -> None:
        """WarehouseError when parts predate the key columns or the `projects` table
        (`buildcensus import` upgrades)."""
        st = state or self.state(keys=False)
        legacy = st.legacy_parts()
        if legacy or st.unnamed_parts():
            missing = "no key columns" if legacy else "no projects table"
            raise WarehouseError(
                f"the warehouse at {self.url} was written by an earlier buildcensus ({missing}); "
                "run `buildcensus import` once to upgrade it"
            )

    def files(self, state: State | None = None) -> dict[str, list[str]]:
        """Paths DuckDB opens for each table's committed parts."""
        st = state or self.state(keys=False)
        return {t: [self.store.os_path(r) for r in st.parts.get(t, [])] for t in TABLES}

    def connect(
        self, threads: int | None = None, sandbox: bool = False
    ) -> duckdb.DuckDBPyConnection:
        """An in-memory DuckDB with one view per table (empty tables included).

        `sandbox=True` locks the connection down for untrusted SQL: no file access outside the
        warehouse, no ATTACH/COPY/INSTALL, and no way to change that setting back.
        """
        st = self.state(keys=False)
        self.check_layout(st)
        con = new_connection(threads)
        self.store.prepare(con)
        create_views(con, self.files(st))
        con.execute(BUILD_PACKAGES_VIEW)
        if sandbox:
            # Only the warehouse root stays readable (a directory, or the s3:// prefix).
            root = quote(self.store.os_path("").rstrip("/" + os.sep) + "/")
            con.execute(f"SET allowed_directories = [{root}]")
            con.execute("SET enable_external_access = false")
            con.execute("SET lock_configuration = true")
        return con

    def last_import_time(self) -> datetime | None:
        """When the last committed import run finished (None before the first)."""
        runs = [r for r in self.state(keys=False).runs if r.get("kind") == "import"]
        if not runs:
            return None
        return datetime.fromisoformat(runs[-1]["finished"])

    def quarantine(self) -> list[dict[str, Any]]:
        """Documents that could not be imported: key, reason, run_id, time."""
        return sorted(self.state().quarantine.values(), key=lambda q: q["key"])

    def table_bytes(self) -> dict[str, int]:
        """Bytes of committed Parquet per table."""
        st = self.state(keys=False)
        return {t: sum(self.store.size(r) for r in st.parts.get(t, [])) for t in TABLES}

    # ------------------------------------------------------------------ writing

    def import_lake(
        self,
        lake: Lake,
        progress: Callable[[int, int], None] | None = None,
        batch_size: int = 50_000,
        retry_quarantined: bool = False,
    ) -> ImportSummary:
        """Import every lake document not imported yet (incremental, idempotent, crash-safe)."""
        if batch_size < 1:
            raise WarehouseError("batch size must be at least 1")
        with self.store.lock():
            return import_lake(
                self.store, self.state(), lake, progress, batch_size, retry_quarantined
            )

    def prune(self, cut: datetime) -> int:
        """Remove builds rows that started before `cut` (naive UTC); monthly counts stay."""
        from buildcensus.warehouse._prune import prune_warehouse

        self.check_layout()
        return prune_warehouse(self, cut)

    def forget_project(self, project: str) -> int:
        """Remove every builds row of a project (and sets only it used); returns rows removed."""
        from buildcensus.warehouse._prune import forget_project_rows

        self.check_layout()
        return forget_project_rows(self, project)


def open_warehouse(url: str) -> Warehouse:
    """Open (or prepare) the warehouse at a directory or `s3://bucket/prefix`."""
    text = str(url)
    if text.startswith("file://"):
        text = text[len("file://") :]
    if is_s3_url(text):
        fs, base = warehouse_filesystem(text)

        def setup(con: duckdb.DuckDBPyConnection) -> str:
            return register_duckdb_filesystem(con, text)

        return Warehouse(fs, base, text, setup)
    if "://" in text:
        raise WarehouseError(f"unsupported warehouse URL {text} (a directory or s3://...)")
    path = os.path.abspath(text)
    if os.path.exists(path) and not os.path.isdir(path):
        raise WarehouseError(f"warehouse path is not a directory: {text}")
    return Warehouse(pafs.LocalFileSystem(), path, text)
