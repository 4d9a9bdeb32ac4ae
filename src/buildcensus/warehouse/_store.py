"""The warehouse root behind a `pyarrow.fs.FileSystem`: atomic parts, run manifests, a lock."""

from __future__ import annotations

import os
import secrets
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from buildcensus.errors import WarehouseError
from buildcensus.warehouse._schema import (
    KEY_COLUMNS,
    KEYS_LAYOUT,
    LAYOUT,
    PROJECTS_LAYOUT,
    parquet_options,
)

MANIFEST_DIR = "_manifest"
TMP_PREFIX = ".tmp-"

_run_lock = threading.Lock()
_last_time: list[datetime] = [datetime.min.replace(tzinfo=UTC)]


def new_run_id(now: datetime | None = None) -> str:
    """A sortable, unique run id: UTC time to the microsecond (increasing), then random hex."""
    with _run_lock:
        when = max(now or datetime.now(UTC), _last_time[0] + timedelta(microseconds=1))
        _last_time[0] = when
        return f"{when:%Y%m%dT%H%M%S%f}Z-{secrets.token_hex(4)}"


class Store:
    """Files under a base path of a pyarrow FileSystem (local directory or S3 prefix)."""

    def __init__(
        self,
        fs: pafs.FileSystem,
        base: str,
        url: str | None = None,
        duckdb_setup: Callable[[Any], str] | None = None,
    ) -> None:
        self.fs = fs
        self.base = base.rstrip("/")
        self.url = url or base
        self.local = isinstance(fs, pafs.LocalFileSystem)
        # For non-local roots: registers a filesystem on a DuckDB connection, returns the
        # URL prefix under which DuckDB sees `base` (e.g. `s3://bucket/prefix`).
        self.duckdb_setup = duckdb_setup
        self._duck_root: str | None = None
        self.manifests: dict[str, dict[str, Any]] = {}  # committed manifests, parsed once

    def prepare(self, con: Any) -> None:
        """Let a DuckDB connection read this root (no-op for local directories)."""
        if not self.local and self.duckdb_setup is not None:
            self._duck_root = self.duckdb_setup(con).rstrip("/")

    def path(self, rel: str) -> str:
        return f"{self.base}/{rel}" if rel else self.base

    def os_path(self, rel: str) -> str:
        """A path DuckDB can open (after `prepare` for non-local roots)."""
        if self.local:
            return os.path.abspath(self.path(rel))
        return f"{self._duck_root or 's3://' + self.base}/{rel}"

    def ensure_dir(self, rel: str) -> None:
        self.fs.create_dir(self.path(rel), recursive=True)

    def _fsync(self, path: str, directory: bool = False) -> None:
        if self.local:
            fd = os.open(path, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)

    def _tmp_name(self, rel: str) -> str:
        head, _, name = rel.rpartition("/")
        tmp = f"{TMP_PREFIX}{secrets.token_hex(6)}-{name}"
        return f"{head}/{tmp}" if head else tmp

    def _commit(self, tmp_rel: str, rel: str) -> None:
        self._fsync(self.path(tmp_rel))
        self.fs.move(self.path(tmp_rel), self.path(rel))
        head = rel.rpartition("/")[0]
        self._fsync(self.path(head), directory=True)

    def write_bytes(self, rel: str, data: bytes) -> None:
        """Write a file atomically (temp name, fsync, rename)."""
        self.ensure_dir(rel.rpartition("/")[0])
        tmp = self._tmp_name(rel)
        with self.fs.open_output_stream(self.path(tmp)) as f:
            f.write(data)
        self._commit(tmp, rel)

    def write_table(self, rel: str, table: pa.Table) -> None:
        """Write a Parquet file atomically (temp name, fsync, rename)."""
        self.ensure_dir(rel.rpartition("/")[0])
        tmp = self._tmp_name(rel)
        pq.write_table(
            table,
            self.path(tmp),
            filesystem=self.fs,
            row_group_size=262144,
            **parquet_options(table.schema),  # type: ignore[arg-type]
        )
        self._commit(tmp, rel)

    def read_bytes(self, rel: str) -> bytes:
        with self.fs.open_input_stream(self.path(rel)) as f:
            return f.read()

    def read_table(self, rel: str, columns: list[str] | None = None) -> pa.Table:
        return pq.read_table(self.path(rel), columns=columns, filesystem=self.fs)

    def delete(self, rel: str) -> None:
        try:
            self.fs.delete_file(self.path(rel))
        except FileNotFoundError:
            pass

    def list(self, rel: str) -> Iterator[str]:
        """Every file under `rel` (recursive), as paths relative to the base."""
        sel = pafs.FileSelector(self.path(rel), recursive=True, allow_not_found=True)
        cut = len(self.base) + 1
        for info in self.fs.get_file_info(sel):
            if info.type == pafs.FileType.File:
                yield info.path[cut:]

    def size(self, rel: str) -> int:
        return self.fs.get_file_info(self.path(rel)).size or 0

    @contextmanager
    def lock(self) -> Iterator[None]:
        """One writer at a time (flock on local disks; released when the process dies)."""
        if not self.local:
            from buildcensus.storage_fs import is_s3_url, s3_lock

            if is_s3_url(self.url):  # a lock object taken by conditional PUT
                with s3_lock(self.url):
                    yield
            else:
                yield
            return
        import fcntl

        self.ensure_dir("")
        fd = os.open(self.path("_lock"), os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise WarehouseError(f"another import or prune is running on {self.url}") from None
            yield
        finally:
            os.close(fd)


@dataclass
class State:
    """The committed warehouse: a fold over the run manifests, oldest first."""

    runs: list[dict[str, Any]] = field(default_factory=list)
    parts: dict[str, dict[str, None]] = field(default_factory=dict)
    imported: set[str] = field(default_factory=set)
    quarantine: dict[str, dict[str, Any]] = field(default_factory=dict)
    frozen_months: set[tuple[int, int]] = field(default_factory=set)
    # Builds parts per month not yet counted in `monthly_packages`.
    pending: dict[tuple[int, int], list[str]] = field(default_factory=dict)
    # Parts of keyed tables written before layout 2 (no BIGINT key columns yet).
    legacy: dict[str, None] = field(default_factory=dict)
    # Builds parts written before layout 3, whose projects may be missing from `projects`.
    unnamed: dict[str, None] = field(default_factory=dict)

    def legacy_parts(self) -> list[str]:
        """Committed parts that still need their key columns (`upgrade_layout`)."""
        return self._committed(self.legacy)

    def unnamed_parts(self) -> list[str]:
        """Committed builds parts whose projects are not in `projects` yet (`upgrade_layout`)."""
        return self._committed(self.unnamed)

    def _committed(self, parts: dict[str, None]) -> list[str]:
        live = self.live()
        return [p for p in parts if p in live]

    def live(self) -> set[str]:
        """Every committed part."""
        return {p for ps in self.parts.values() for p in ps}

    def files(self, table: str) -> list[str]:
        """The committed parts of a table, oldest first."""
        return list(self.parts.get(table, ()))

    def apply(self, run: dict[str, Any], keys: bool = True) -> None:
        """Fold one committed run into the state (`keys=False`: parts only)."""
        self.runs.append(run)
        removed = set(run.get("removed", []))
        for parts in self.parts.values():
            for p in [p for p in parts if p in removed]:
                del parts[p]
        for table, parts in run.get("added", {}).items():
            self.parts.setdefault(table, {}).update(dict.fromkeys(parts))
            if run.get("layout", 1) < KEYS_LAYOUT and table in KEY_COLUMNS:
                self.legacy.update(dict.fromkeys(parts))
            if run.get("layout", 1) < PROJECTS_LAYOUT and table == "builds":
                self.unnamed.update(dict.fromkeys(parts))
        for rel in run.get("named", []):
            self.unnamed.pop(rel, None)
        if keys:
            imported = run.get("keys", [])
            self.imported.update(imported)
            if self.quarantine:
                for k in imported:
                    self.quarantine.pop(k, None)
            for q in run.get("quarantined", []):
                self.quarantine[q["key"]] = {**q, "run_id": run["run_id"]}
        self.frozen_months.update((int(y), int(m)) for y, m in run.get("frozen_months", []))
        if run.get("kind") == "import":
            for rel in run.get("added", {}).get("builds", []):
                self.pending.setdefault(month_of_path(rel), []).append(rel)
        for y, m in run.get("aggregated", []):
            self.pending.pop((int(y), int(m)), None)


def month_of_path(rel: str) -> tuple[int, int]:
    """(year, month) of a part under `year=YYYY/month=MM/`."""
    parts = dict(p.split("=", 1) for p in rel.split("/") if "=" in p)
    return int(parts["year"]), int(parts["month"])


def load_state(store: Store, keys: bool = True) -> State:
    """Fold every committed run manifest into the current state.

    Manifests never change once committed, so each is read and parsed once per Store;
    `keys=False` skips the imported-key sets (all a reader needs is the parts).
    """
    state = State()
    names = sorted(
        r
        for r in store.list(MANIFEST_DIR)
        if r.endswith(".json") and not r.rpartition("/")[2].startswith(TMP_PREFIX)
    )
    cache = store.manifests
    for rel in names:
        run = cache.get(rel)
        if run is None:
            try:
                run = orjson.loads(store.read_bytes(rel))
            except (OSError, orjson.JSONDecodeError) as exc:
                raise WarehouseError(f"unreadable manifest {rel}: {exc}") from None
            cache[rel] = run
        state.apply(run, keys)
    return state


def commit_run(store: Store, run: dict[str, Any]) -> None:
    """Make a run visible: its manifest is written last, atomically.

    The manifest records the layout its parts have (this version's: `LAYOUT`), so that parts
    written before the key columns can be told apart (`State.legacy_parts`).
    """
    run["layout"] = LAYOUT
    store.write_bytes(f"{MANIFEST_DIR}/{run['run_id']}.json", orjson.dumps(run))


def commit_replacing(store: Store, state: State, run: dict[str, Any]) -> None:
    """Commit a run that replaces parts, fold it into `state`, then delete what it removed."""
    commit_run(store, run)
    state.apply(run)
    for rel in run.get("removed", []):
        store.delete(rel)


def collect_garbage(store: Store, state: State, tables: tuple[str, ...]) -> int:
    """Delete files no committed run refers to (crash leftovers, replaced parts)."""
    live = state.live()
    n = 0
    for table in tables:
        for rel in list(store.list(table)):
            if rel not in live:
                store.delete(rel)
                n += 1
    for rel in list(store.list(MANIFEST_DIR)):
        if rel.rpartition("/")[2].startswith(TMP_PREFIX):
            store.delete(rel)
    return n
