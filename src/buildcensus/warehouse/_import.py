"""Import: lake documents -> rows in Python lists -> Arrow tables -> Parquet parts.

Each batch of documents is one run: its parts are written under temp names and renamed, then
the run's manifest (imported keys, parts, quarantine) is committed last. Parts of runs without
a manifest are deleted by the next run, so a crash at any point leaves the committed tables
unchanged and a re-run completes them exactly.
"""

from __future__ import annotations

import hashlib
import os
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import orjson
import pyarrow as pa

from buildcensus.errors import BuildcensusError, NotFoundError, WarehouseError
from buildcensus.lake import Lake, LocalStorage, canonical, forgotten_projects
from buildcensus.lake.keys import BLOBS, DUPLICATES
from buildcensus.names import normalize
from buildcensus.versions import is_prerelease, sort_key
from buildcensus.warehouse._keys import add_keys
from buildcensus.warehouse._monthly import aggregate, compact
from buildcensus.warehouse._schema import (
    BASE_SCHEMAS,
    PACKAGE_LISTS,
    SET_ID_COLUMN,
    TABLES,
)
from buildcensus.warehouse._store import (
    State,
    Store,
    collect_garbage,
    commit_replacing,
    commit_run,
    new_run_id,
)

Progress = Callable[[int, int], None]
_DIGEST = re.compile(r"[0-9a-f]{64}")

BUILD_COLUMNS = BASE_SCHEMAS["builds"].names
_LISTS = tuple((eco, scope, f"{eco}.{scope}:", path) for _, eco, scope, path in PACKAGE_LISTS)
_SET_TABLES = ("package_sets", "configs", "config_keys", "config_values", "doctool_sets")


@dataclass
class QuarantineEntry:
    """A document that could not be imported, and why."""

    key: str
    reason: str


@dataclass
class ImportSummary:
    """What one `import_lake` call did."""

    documents: int = 0
    builds: int = 0
    duplicates: int = 0
    forgotten: int = 0
    skipped: int = 0
    quarantined: list[QuarantineEntry] = field(default_factory=list)
    runs: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def documents_per_second(self) -> float:
        """Throughput of this import."""
        return self.documents / self.seconds if self.seconds > 0 else 0.0


class BadDocument(Exception):
    """A lake document that cannot become a row."""


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _str(value: Any, what: str) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise BadDocument(f"{what}: expected a string, got {type(value).__name__}")


def _int(value: Any, what: str) -> int | None:
    if value is None or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    raise BadDocument(f"{what}: expected an integer, got {type(value).__name__}")


def _float(value: Any, what: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    raise BadDocument(f"{what}: expected a number, got {type(value).__name__}")


def _bool(value: Any, what: str) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    raise BadDocument(f"{what}: expected true/false, got {type(value).__name__}")


def _dict(value: Any, what: str) -> dict[str, Any]:
    if value is None:
        return {}
    if isinstance(value, dict):
        return value
    raise BadDocument(f"{what}: expected an object, got {type(value).__name__}")


def _slug(ref: Any, what: str) -> tuple[str, int | None]:
    if not isinstance(ref, dict) or not isinstance(ref.get("slug"), str):
        raise BadDocument(f"{what}.slug: missing")
    return ref["slug"], _int(ref.get("id"), f"{what}.id")


def parse_start(value: Any) -> datetime:
    """A record's `build.start` as a naive UTC datetime."""
    if not isinstance(value, str):
        raise BadDocument("build.start: missing")
    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        raise BadDocument(f"build.start: not an ISO 8601 time: {value!r}") from None
    if dt.tzinfo is not None:
        dt = dt.astimezone(UTC).replace(tzinfo=None)
    return dt


def _text(value: Any) -> str:
    return value if isinstance(value, str) else orjson.dumps(value).decode()


def _flatten(
    value: Any, prefix: str, paths: list[str], leaves: dict[str, Any], depth: int = 0
) -> None:
    """Every dotted path (list indices as numbers) and every leaf value of a config."""
    if depth > 64:
        raise BadDocument("config nested too deep")
    if isinstance(value, dict) and value:
        items: Iterable[tuple[Any, Any]] = value.items()
    elif isinstance(value, list) and value:
        items = enumerate(value)
    else:
        if prefix:
            leaves[prefix] = value
        return
    for k, v in items:
        p = f"{prefix}.{k}" if prefix else str(k)
        paths.append(p)
        _flatten(v, p, paths, leaves, depth + 1)


class _Columns:
    """Rows of one table, as tuples; turned into Arrow columns once per batch."""

    def __init__(self, table: str) -> None:
        self.table = table
        self.schema = BASE_SCHEMAS[table]
        self.rows: list[tuple[Any, ...]] = []

    def add(self, *values: Any) -> None:
        self.rows.append(values)

    def __len__(self) -> int:
        return len(self.rows)

    def to_arrow(self) -> pa.Table:
        return add_keys(self.table, rows_to_table(self.rows, self.schema))


def rows_to_table(rows: list[tuple[Any, ...]], schema: pa.Schema) -> pa.Table:
    """Tuples (in schema order) to an Arrow table in one conversion (a struct array)."""
    try:
        struct = pa.array(rows, type=pa.struct(schema))
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError) as exc:
        raise WarehouseError(f"cannot convert rows: {exc}") from None
    return pa.Table.from_struct_array(struct).cast(schema)


class _Batch:
    def __init__(self) -> None:
        self.builds: dict[tuple[int, int], list[tuple[Any, ...]]] = {}
        self.tables: dict[str, _Columns] = {
            t: _Columns(t) for t in (*_SET_TABLES, "tools_sets", "versions", "projects")
        }
        self.keys: list[str] = []
        self.quarantined: list[QuarantineEntry] = []
        self.n_builds = 0
        self.n_duplicates = 0
        self.n_forgotten = 0


class Importer:
    """Turns lake documents into rows; remembers which sets and versions already exist."""

    def __init__(self, store: Store, lake: Lake, state: State) -> None:
        self.store = store
        self.lake = lake
        self.state = state
        self.known: dict[str, set[str]] = {}
        self.known_versions: set[tuple[str, str]] = set()
        self.forgotten = forgotten_projects(lake)
        storage = lake.storage
        self._root = (
            os.path.join(os.fspath(storage.root), "") if isinstance(storage, LocalStorage) else None
        )
        self._doctool_ids: dict[tuple[Any, ...], str | None] = {}
        self._doctool_raw: dict[bytes, str | None] = {}
        self._tools_ids: dict[bytes, str | None] = {}
        self._load_known()

    def _load_known(self) -> None:
        kinds = {
            "package_sets": "package",
            "configs": "config",
            "doctool_sets": "doctool",
            "tools_sets": "tools",
            "projects": "project",
        }
        for table, kind in kinds.items():
            self.known[kind] = _known_ids(self.store, self.state, table)
        for rel in self.state.parts.get("versions", []):
            t = self.store.read_table(rel, ["ecosystem", "version"])
            self.known_versions.update(
                zip(t.column(0).to_pylist(), t.column(1).to_pylist(), strict=True)
            )

    # ------------------------------------------------------------------ dimensions

    def _version(self, batch: _Batch, ecosystem: str, version: str | None) -> None:
        if version is None or (ecosystem, version) in self.known_versions:
            return
        self.known_versions.add((ecosystem, version))
        key = sort_key(ecosystem, version)
        batch.tables["versions"].add(
            ecosystem, version, key, is_prerelease(ecosystem, version), key.startswith("1")
        )

    def _list_ref(self, value: Any, what: str) -> tuple[str | None, Any]:
        """(digest, inline content) of a package list: a blob reference, a list or empty."""
        if not value:
            return None, None
        if isinstance(value, dict) and set(value) == {"$blob"}:
            if not isinstance(value["$blob"], str):
                raise BadDocument(f"{what}: bad blob reference")
            return value["$blob"], None
        if isinstance(value, list):
            return hashlib.sha256(canonical(value)).hexdigest(), value
        raise BadDocument(f"{what}: expected a list or a blob reference")

    def _content(self, digest: str, inline: Any, what: str) -> Any:
        if inline is not None:
            return inline
        if not _DIGEST.fullmatch(digest):
            raise BadDocument(f"{what}: invalid blob reference {digest[:70]!r}")
        try:
            # Each set is loaded once, so the lake's blob cache would only cost memory.
            return orjson.loads(self._get(f"{BLOBS}/{digest[:2]}/{digest}.json"))
        except (BuildcensusError, ValueError, orjson.JSONDecodeError) as exc:
            raise BadDocument(f"{what}: blob {digest[:12]}: {exc}") from None

    def _package_set(
        self, batch: _Batch, pk: dict[str, Any], ecosystem: str, scope: str, path: tuple[str, ...]
    ) -> str | None:
        what = ".".join(path)
        eco = _dict(pk.get(ecosystem), f"packages.{ecosystem}")
        digest, inline = self._list_ref(eco.get(scope), what)
        if digest is None:
            return None
        set_id = f"{ecosystem}.{scope}:{digest}"
        if set_id in self.known["package"]:
            return set_id
        items = self._content(digest, inline, what)
        if not isinstance(items, list):
            raise BadDocument(f"{what}: blob is not a list")
        out = batch.tables["package_sets"].rows
        first = len(out)
        try:
            self._package_rows(batch, items, out, set_id, ecosystem, scope, what)
        except BadDocument:
            del out[first:]  # never half a set
            raise
        self.known["package"].add(set_id)
        return set_id

    def _package_rows(
        self,
        batch: _Batch,
        items: list[Any],
        out: list[tuple[Any, ...]],
        set_id: str,
        ecosystem: str,
        scope: str,
        what: str,
    ) -> None:
        user, pip, conda = scope == "user", ecosystem == "pip", ecosystem == "conda"
        known_versions = self.known_versions
        for i, p in enumerate(items):
            try:
                name = p["name"]
                norm = p.get("normalized") or normalize(ecosystem, name)
                if user:
                    version = p.get("installed") if pip else None
                    spec = p.get("specifier") or ""
                else:
                    version, spec = p.get("version"), None
                channel = p.get("channel") if conda else None
            except (TypeError, KeyError, AttributeError):
                raise BadDocument(f"{what}.{i}: package without a name") from None
            if not (
                type(name) is str
                and type(norm) is str
                and (version is None or type(version) is str)
                and (spec is None or type(spec) is str)
                and (channel is None or type(channel) is str)
            ):
                raise BadDocument(f"{what}.{i}: expected strings")
            out.append((set_id, ecosystem, scope, name, norm, version, spec, channel))
            if version is not None and (ecosystem, version) not in known_versions:
                self._version(batch, ecosystem, version)

    def _config(self, batch: _Batch, cfg: dict[str, Any]) -> str | None:
        user, final = cfg.get("user"), cfg.get("final")
        if user is None and final is None:
            return None
        digests = []
        for name, value in (("user", user), ("final", final)):
            if isinstance(value, dict) and set(value) == {"$blob"}:
                digests.append(str(value["$blob"]))
            elif value is None:
                digests.append("null")
            elif isinstance(value, dict):
                digests.append(hashlib.sha256(canonical(value)).hexdigest())
            else:
                raise BadDocument(f"config.{name}: expected an object")
        config_id = _sha(":".join(digests))
        if config_id in self.known["config"]:
            return config_id
        values = []
        for name, value in (("user", user), ("final", final)):
            if isinstance(value, dict) and set(value) == {"$blob"}:
                value = self._content(value["$blob"], None, f"config.{name}")
                if not isinstance(value, dict):
                    raise BadDocument(f"config.{name}: blob is not an object")
            values.append(value)
        user, final = values
        user_paths: list[str] = []
        user_leaves: dict[str, Any] = {}
        final_paths: list[str] = []
        final_leaves: dict[str, Any] = {}
        if user is not None:
            _flatten(user, "", user_paths, user_leaves)
        if final is not None:
            _flatten(final, "", final_paths, final_leaves)
        batch.tables["configs"].add(
            config_id,
            _str(cfg.get("version"), "config.version"),
            None if user is None else canonical(user).decode(),
            None if final is None else canonical(final).decode(),
            user is not None,
        )
        keys = batch.tables["config_keys"]
        for p in dict.fromkeys(user_paths):
            keys.add(config_id, p)
        vals = batch.tables["config_values"]
        for k, v in final_leaves.items():
            vals.add(config_id, k, _text(v), k in user_leaves, "final")
        for k, v in user_leaves.items():
            if k not in final_leaves:
                vals.add(config_id, k, _text(v), True, "user")
        self.known["config"].add(config_id)
        return config_id

    def _doctool(self, batch: _Batch, dt: dict[str, Any]) -> str | None:
        raw = orjson.dumps(dt)  # documents are canonical JSON: equal dicts, equal bytes
        hit = self._doctool_raw.get(raw, False)
        if hit is not False:
            return hit
        set_id = self._doctool_new(batch, dt)
        self._doctool_raw[raw] = set_id
        return set_id

    def _doctool_new(self, batch: _Batch, dt: dict[str, Any]) -> str | None:
        ext = dt.get("extensions") or []
        plugins = dt.get("plugins") or []
        md = dt.get("markdown_extensions") or []
        theme = dt.get("theme")
        for name, items in (("extensions", ext), ("plugins", plugins), ("markdown", md)):
            if not isinstance(items, list) or not all(isinstance(x, str) for x in items):
                raise BadDocument(f"doctool.{name}: expected a list of names")
        _str(theme, "doctool.theme")
        cache_key = (tuple(ext), tuple(plugins), tuple(md), theme)
        if cache_key in self._doctool_ids:
            return self._doctool_ids[cache_key]
        set_id = None
        if ext or plugins or md or theme:
            body = {"extensions": ext, "markdown_extensions": md, "plugins": plugins}
            set_id = hashlib.sha256(canonical({**body, "theme": theme})).hexdigest()
            if set_id not in self.known["doctool"]:
                t = batch.tables["doctool_sets"]
                for kind, items in (("extension", ext), ("plugin", plugins)):
                    for x in items:
                        t.add(set_id, kind, x)
                for x in md:
                    t.add(set_id, "markdown_extension", x)
                if theme:
                    t.add(set_id, "theme", theme)
                self.known["doctool"].add(set_id)
        self._doctool_ids[cache_key] = set_id
        return set_id

    def _tools(self, batch: _Batch, tools: dict[str, Any]) -> str | None:
        if not tools:
            return None
        cache_key = orjson.dumps(tools)
        if cache_key in self._tools_ids:
            return self._tools_ids[cache_key]
        for k, v in tools.items():
            _str(v, f"tools.{k}")
        set_id = hashlib.sha256(canonical(tools)).hexdigest()
        if set_id not in self.known["tools"]:
            t = batch.tables["tools_sets"]
            for k, v in sorted(tools.items()):
                t.add(set_id, k, v)
            self.known["tools"].add(set_id)
        self._tools_ids[cache_key] = set_id
        return set_id

    # ------------------------------------------------------------------ documents

    def _content_row(self, batch: _Batch, doc: dict[str, Any]) -> tuple[Any, ...]:
        """The columns a build and its duplicates share (everything but id/key/time)."""
        project, project_id = _slug(doc.get("project"), "project")
        version, version_id = _slug(doc.get("version"), "version")
        org = doc.get("organization")
        organization = _slug(org, "organization")[0] if org else None
        build = _dict(doc.get("build"), "build")
        cfg = _dict(doc.get("config"), "config")
        dt = _dict(doc.get("doctool"), "doctool")
        pk = _dict(doc.get("packages"), "packages")
        python = _str(doc.get("python"), "python")
        self._version(batch, "python", python)
        sets = []
        known = self.known["package"]
        for eco, scope, prefix, path in _LISTS:
            # Fast path: a blob reference to a set already loaded (the common case).
            e = pk.get(eco)
            v = e.get(scope) if type(e) is dict else None
            if not v:
                sets.append(None)
                continue
            d = v.get("$blob") if type(v) is dict and len(v) == 1 else None
            if type(d) is str and prefix + d in known:
                sets.append(prefix + d)
                continue
            sets.append(self._package_set(batch, pk, eco, scope, path))
        steps = build.get("steps") or []
        errors = doc.get("errors") or []
        if not isinstance(steps, list) or not isinstance(errors, list):
            raise BadDocument("build.steps/errors: expected lists")
        collector = _dict(doc.get("collector"), "collector")
        trigger = _str(build.get("trigger"), "build.trigger")
        return (
            project,
            project_id,
            version,
            version_id,
            organization,
            _bool(build.get("success"), "build.success"),
            _str(build.get("commit"), "build.commit"),
            trigger,
            python,
            _str(doc.get("os"), "os"),
            _str(dt.get("name"), "doctool.name"),
            _str(dt.get("theme"), "doctool.theme"),
            _str(dt.get("builder"), "doctool.builder"),
            self._config(batch, cfg),
            _str(cfg.get("version"), "config.version"),
            *sets,
            self._doctool(batch, dt),
            self._tools(batch, _dict(doc.get("tools"), "tools")),
            len(errors),
            _int(doc.get("redactions"), "redactions") or 0,
            _float(collector.get("seconds"), "collector.seconds"),
            orjson.dumps(steps).decode() if steps else "[]",
        )

    def _get(self, key: str) -> bytes:
        """An object's bytes; plain `open` for local lakes (keys come from its own listing)."""
        if self._root is None:
            return self.lake.storage.get(key)
        try:
            with open(self._root + key, "rb") as f:
                return f.read()
        except (FileNotFoundError, IsADirectoryError):
            raise NotFoundError(f"not in the lake: {key}") from None

    def _read(self, key: str) -> dict[str, Any]:
        try:
            doc = orjson.loads(self._get(key))
        except orjson.JSONDecodeError as exc:
            raise BadDocument(f"malformed JSON: {exc}") from None
        except BuildcensusError as exc:
            raise BadDocument(str(exc)) from None
        if not isinstance(doc, dict):
            raise BadDocument("not a JSON object")
        return doc

    def add(self, batch: _Batch, key: str) -> None:
        """Turn one lake document into rows of the batch (or quarantine it)."""
        try:
            doc = self._read(key)
            slug = doc.get("project")
            if (slug.get("slug") if isinstance(slug, dict) else slug) in self.forgotten:
                batch.keys.append(key)  # the project opted out: done, without a row
                batch.n_forgotten += 1
                return
            original = None
            if key.startswith(DUPLICATES + "/"):
                original = doc.get("duplicate_of")
                if not isinstance(original, str):
                    raise BadDocument("duplicate without duplicate_of")
                try:
                    content_doc = self._read(original)
                except BadDocument as exc:
                    raise BadDocument(f"original {original}: {exc}") from None
                if "duplicate_of" in content_doc:
                    raise BadDocument(f"original {original} is itself a duplicate")
            else:
                content_doc = doc
            build = _dict(doc.get("build"), "build")
            bid = build.get("id")
            if isinstance(bid, bool) or not isinstance(bid, (int, str)):
                raise BadDocument("build.id: missing")
            start = parse_start(build.get("start"))
            length = _float(build.get("length"), "build.length")
            shared = self._content_row(batch, content_doc)
        except BadDocument as exc:
            batch.quarantined.append(QuarantineEntry(key, str(exc)))
            return
        except RecursionError:
            batch.quarantined.append(QuarantineEntry(key, "nested too deep"))
            return
        except (TypeError, ValueError, KeyError, AttributeError) as exc:
            # Wrong shapes the cheap checks did not catch: still one document, not the run.
            batch.quarantined.append(
                QuarantineEntry(key, f"malformed: {type(exc).__name__}: {exc}")
            )
            return
        row = (str(bid), key, original, start, start.date(), length, *shared)
        batch.builds.setdefault((start.year, start.month), []).append(row)
        project = shared[0]
        if project not in self.known["project"]:
            self.known["project"].add(project)
            batch.tables["projects"].add(project)
        batch.keys.append(key)
        if original is None:
            batch.n_builds += 1
        else:
            batch.n_duplicates += 1


# The order of `_content_row` + the leading id/key/time columns, mapped onto the schema.
_ROW_ORDER = (
    "build_id",
    "key",
    "duplicate_of",
    "start",
    "day",
    "length",
    "project",
    "project_id",
    "version",
    "version_id",
    "organization",
    "success",
    "commit",
    "trigger",
    "python",
    "os",
    "doctool",
    "theme",
    "builder",
    "config_id",
    "config_version",
    *(c for c, *_ in PACKAGE_LISTS),
    "doctool_set",
    "tools_set",
    "n_errors",
    "redactions",
    "collector_seconds",
    "steps_json",
)
assert sorted(_ROW_ORDER) == sorted(BUILD_COLUMNS)


def builds_table(rows: list[tuple[Any, ...]]) -> pa.Table:
    """Arrow table of build rows (tuples in `_ROW_ORDER`)."""
    schema = BASE_SCHEMAS["builds"]
    in_order = pa.schema([schema.field(n) for n in _ROW_ORDER])
    return add_keys("builds", rows_to_table(rows, in_order))


def month_dir(table: str, year: int, month: int) -> str:
    """The hive partition directory of a month."""
    return f"{table}/year={year:04d}/month={month:02d}"


def write_batch(
    store: Store, state: State, batch: _Batch, run_id: str, started: datetime
) -> dict[str, Any]:
    """Write a batch's parts and commit its manifest; returns the run record."""
    added: dict[str, list[str]] = {}
    for (y, m), rows in sorted(batch.builds.items()):
        rows.sort(key=lambda r: (r[3], r[1]))
        rel = f"{month_dir('builds', y, m)}/part-{run_id}.parquet"
        store.write_table(rel, builds_table(rows))
        added.setdefault("builds", []).append(rel)
    for table, cols in batch.tables.items():
        if len(cols):
            rel = f"{table}/part-{run_id}.parquet"
            store.write_table(rel, cols.to_arrow())
            added.setdefault(table, []).append(rel)
    run = {
        "run_id": run_id,
        "kind": "import",
        "started": started.isoformat(),
        "finished": datetime.now(UTC).isoformat(),
        "keys": batch.keys,
        "quarantined": [
            {"key": q.key, "reason": q.reason, "time": started.isoformat()}
            for q in batch.quarantined
        ],
        "added": added,
        "counts": {
            "builds": batch.n_builds,
            "duplicates": batch.n_duplicates,
            "forgotten": batch.n_forgotten,
            "quarantined": len(batch.quarantined),
        },
    }
    commit_run(store, run)
    return run


def import_lake(
    store: Store,
    state: State,
    lake: Lake,
    progress: Progress | None = None,
    batch_size: int = 50_000,
    retry_quarantined: bool = False,
) -> ImportSummary:
    """Import every lake document not imported yet, one committed run per batch."""
    t0 = time.perf_counter()
    summary = ImportSummary()
    collect_garbage(store, state, TABLES)
    upgrade_layout(store, state)
    done_keys = state.imported
    skip = done_keys if retry_quarantined else done_keys | set(state.quarantine)
    todo = [k for k in lake.iter_keys() if k not in skip]
    summary.skipped = len(done_keys)
    if not todo:
        aggregate(store, state)  # counts a crash left behind, if any
        summary.seconds = time.perf_counter() - t0
        return summary
    importer = Importer(store, lake, state)
    total = len(todo)
    if progress:
        progress(0, total)
    for start in range(0, total, batch_size):
        started = datetime.now(UTC)
        batch = _Batch()
        for i, key in enumerate(todo[start : start + batch_size], start + 1):
            importer.add(batch, key)
            if progress and i % 256 == 0:
                progress(i, total)
        run_id = new_run_id()
        run = write_batch(store, state, batch, run_id, started)
        state.apply(run)
        summary.runs.append(run_id)
        summary.documents += len(batch.keys) + len(batch.quarantined)
        summary.builds += batch.n_builds
        summary.duplicates += batch.n_duplicates
        summary.forgotten += batch.n_forgotten
        summary.quarantined.extend(batch.quarantined)
        if progress:
            progress(min(start + batch_size, total), total)
    aggregate(store, state)
    compact(store, state)
    summary.seconds = time.perf_counter() - t0
    return summary


def upgrade_layout(store: Store, state: State) -> dict[str, Any] | None:
    """Bring parts of an earlier layout up to this one (one committed run, crash-safe).

    Parts written before layout 2 have no BIGINT key columns: each is rewritten with them
    under a new name, and the run's manifest swaps old for new. Builds parts written before
    layout 3 may name projects the `projects` table lacks: their slugs are added in one part.
    """
    legacy = state.legacy_parts()
    unnamed = state.unnamed_parts()
    if not legacy and not unnamed:
        return None
    run_id = new_run_id()
    added: dict[str, list[str]] = {}
    for rel in legacy:
        table = next(t for t in TABLES if rel in state.parts.get(t, {}))
        data = store.read_table(rel).select(BASE_SCHEMAS[table].names)
        head = rel.rsplit("/", 1)[0]
        new_rel = f"{head}/part-{run_id}-{len(added.get(table, []))}.parquet"
        store.write_table(new_rel, add_keys(table, data))
        added.setdefault(table, []).append(new_rel)
    known = _known_ids(store, state, "projects")
    slugs: set[str] = set()
    for rel in unnamed:
        slugs.update(store.read_table(rel, ["project"]).column(0).unique().to_pylist())
    slugs -= known
    slugs.discard(None)  # type: ignore[arg-type]
    if slugs:
        rel = f"projects/part-{run_id}.parquet"
        table = pa.table({"project": sorted(slugs)}, schema=BASE_SCHEMAS["projects"])
        store.write_table(rel, add_keys("projects", table))
        added["projects"] = [rel]
    now = datetime.now(UTC).isoformat()
    run = {"run_id": run_id, "kind": "upgrade", "started": now, "finished": now, "keys": [],
           "added": added, "removed": legacy, "named": unnamed}  # fmt: skip
    commit_replacing(store, state, run)
    return run


def _known_ids(store: Store, state: State, table: str) -> set[str]:
    """The distinct ids (`SET_ID_COLUMN`) of a set table's committed rows."""
    col = SET_ID_COLUMN[table]
    ids: set[str] = set()
    for rel in state.parts.get(table, []):
        ids.update(store.read_table(rel, [col]).column(col).unique().to_pylist())
    return ids


def month_of(d: date) -> tuple[int, int]:
    """(year, month) of a date."""
    return d.year, d.month
