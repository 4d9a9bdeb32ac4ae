"""The lake: raw build documents in object storage, laid out by date.

Heavy repeated parts (configs, package lists) are stored once, content-addressed, and the
build document refers to them as `{"$blob": "<sha256>"}`. Same-day duplicates (same project,
version and content, ignoring id, start, length and the collector's own timing) are recorded
as small reference documents under `telemetry/duplicates/`, so build counts stay right.
"""

from __future__ import annotations

import asyncio
import hashlib
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import orjson

from buildcensus.errors import LakeError, NotFoundError
from buildcensus.lake.keys import (
    BUILDS,
    DEDUP,
    DUPLICATES,
    FORGOTTEN,
    blob_key,
    build_id_from_key,
    build_key,
    dedup_key,
    duplicate_key,
    forgotten_key,
)
from buildcensus.lake.storage import LocalStorage, Storage, open_storage
from buildcensus.names import is_project_slug
from buildcensus.record import BuildRecord
from buildcensus.redact import redact_document, redact_part

__all__ = [
    "HEAVY_PATHS",
    "Lake",
    "LocalStorage",
    "Part",
    "Prepared",
    "Storage",
    "ForgetSummary",
    "StoreResult",
    "forget_project",
    "forgotten_projects",
    "marker_target",
    "open_lake",
    "open_storage",
]

# Parts of a record stored once as content-addressed blobs.
HEAVY_PATHS: tuple[tuple[str, ...], ...] = (
    ("config", "user"),
    ("config", "user_raw"),
    ("config", "final"),
    ("packages", "pip", "user"),
    ("packages", "pip", "top_level"),
    ("packages", "pip", "all"),
    ("packages", "conda", "user"),
    ("packages", "conda", "all"),
    ("packages", "apt", "user"),
    ("packages", "apt", "all"),
)


def canonical(value: Any) -> bytes:
    """Canonical JSON bytes (sorted keys, compact): equal values give equal bytes."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def _digest(value: Any) -> str:
    return hashlib.sha256(canonical(value)).hexdigest()


def _refs_only(doc: dict[str, Any]) -> dict[str, Any]:
    """`doc` with each non-empty heavy part as its blob reference (computed, nothing written)."""
    if not isinstance(doc.get("config"), dict) or not isinstance(doc.get("packages"), dict):
        return doc
    return _map_heavy(doc, lambda v: v if not v or _is_ref(v) else {"$blob": _digest(v)})


def _fingerprint_refs(doc: dict[str, Any]) -> str:
    build = {k: v for k, v in doc["build"].items() if k not in ("id", "start", "length")}
    collector = {k: v for k, v in doc.get("collector", {}).items() if k != "seconds"}
    return hashlib.sha256(canonical({**doc, "build": build, "collector": collector})).hexdigest()


def fingerprint(doc: dict[str, Any]) -> str:
    """Content hash of a record, ignoring build id, start, length and collector timing.

    Heavy parts count by their blob reference (the hash of their content), so the stored,
    dehydrated document and the full record give the same fingerprint and the heavy parts
    are not hashed again for every build.
    """
    return _fingerprint_refs(_refs_only(doc))


def marker_target(content: bytes) -> str | None:
    """The key a same-day marker points at, from its content: the key itself, or (a marker
    linked to its document) the document, whose start and id give the key; None when it is
    neither (e.g. a write cut short by a crash)."""
    if content[:1] != b"{":
        text = content.decode(errors="replace")
        return text if text.startswith(BUILDS + "/") else None
    try:
        build = orjson.loads(content)["build"]
        return build_key(datetime.fromisoformat(build["start"]), build["id"])
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return None


def _duplicate_reference(document: bytes, target: str) -> dict[str, Any]:
    """What a same-day duplicate stores: the key of the first document with its content, and
    the fields that are its own (from its document's bytes, as they would be stored)."""
    doc = orjson.loads(document)
    return {
        "schema_version": doc["schema_version"],
        "duplicate_of": target,
        "project": doc["project"]["slug"],
        "version": doc["version"]["slug"],
        "build": {k: doc["build"][k] for k in ("id", "start", "length")},
        "collector": doc["collector"],
    }


def _is_ref(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == {"$blob"}


def _map_heavy(doc: dict[str, Any], fn: Callable[[Any], Any]) -> dict[str, Any]:
    """A copy of `doc` with `fn` applied to each heavy part (the rest shared, not copied)."""
    return {
        **doc,
        "config": _map_part("config", doc["config"], fn),
        "packages": _map_part("packages", doc["packages"], fn),
    }


def _map_part(name: str, part: dict[str, Any], fn: Callable[[Any], Any]) -> dict[str, Any]:
    """A copy of a record's `config` or `packages` with `fn` applied to its heavy parts."""
    out = dict(part)
    if name == "packages":
        for eco in ("pip", "conda", "apt"):
            out[eco] = dict(part[eco])
    for path in HEAVY_PATHS:
        if path[0] != name:
            continue
        parent = out
        for p in path[1:-1]:
            parent = parent[p]
        parent[path[-1]] = fn(parent[path[-1]])
    return out


@dataclass(frozen=True)
class Part:
    """A record's `config` or `packages`, redacted and dehydrated (blob references): what
    the lake stores of it in the build document. `Lake.store_document` takes one in place
    of the part's value (see `Lake.document_part`)."""

    refs: dict[str, Any]
    redactions: int
    digests: tuple[str, ...]


_PART_NAMES = ("config", "packages")
_PART_CACHE_SIZE = 8192


@dataclass(frozen=True)
class Prepared:
    """A build document ready to store (`Lake.prepare_document`, `Lake.commit`): its bytes,
    keys and fingerprint, so that only the lake's checks and writes are left (which the
    ingest service's writer process makes, `lake.writer`)."""

    key: str
    duplicate_key: str  # where a same-day duplicate's reference goes
    marker: str  # the same-day marker of its content (`dedup_key`)
    data: bytes  # the document (canonical JSON)
    fingerprint: str
    build_id: int | str
    blobs: tuple[tuple[str, bytes], ...] = ()  # (digest, content) of blobs new to the lake


@dataclass(frozen=True)
class StoreResult:
    """What `Lake.store` did: `stored` a new document or found a `duplicate`."""

    status: Literal["stored", "duplicate"]
    key: str
    duplicate_of: str | None = None


class Lake:
    """Raw build documents in a Storage."""

    def __init__(self, storage: Storage, blob_cache_size: int = 4096) -> None:
        self.storage = storage
        self._known_blobs: set[str] = set()
        self._blob_cache: dict[str, Any] = {}
        self._blob_cache_size = blob_cache_size
        # Redacted, dehydrated config/packages parts: by content hash, and (shared_parts) by
        # the identity of a part object while it lives.
        self._parts: dict[bytes, Part] = {}
        self._shared: dict[int, tuple[weakref.ref[Any], Part]] = {}

    @property
    def url(self) -> str:
        return self.storage.url

    # ----------------------------------------------------------------- writing

    def _put_blob(self, value: Any, pending: list[tuple[str, bytes]] | None = None) -> str:
        """Store `value` as a blob unless the lake has it; its digest. `pending`: not now,
        but by `commit`, with the document (the blob is added to that list)."""
        data = canonical(value)
        digest = hashlib.sha256(data).hexdigest()
        if digest not in self._known_blobs:
            if pending is not None:
                pending.append((digest, data))
            else:
                self._store_blob(digest, data)
        return digest

    def _store_blob(self, digest: str, data: bytes) -> None:
        key = blob_key(digest)
        if not self.storage.exists(key):
            self.storage.put_if_absent(key, data)
        self._known_blobs.add(digest)

    def _blob_ref(self, value: Any, pending: list[tuple[str, bytes]] | None = None) -> Any:
        # Empty lists and nulls stay inline.
        return {"$blob": self._put_blob(value, pending)} if value else value

    def blobs_stored(self, prepared: Prepared) -> None:
        """Note that `prepared`'s blobs are in the lake: another process committed it (the
        ingest service's writer process), so later parts that refer to them are known."""
        self._known_blobs.update(digest for digest, _ in prepared.blobs)

    def dehydrate(self, doc: dict[str, Any]) -> dict[str, Any]:
        """Replace heavy parts with blob references (writes the blobs)."""
        return _map_heavy(doc, self._blob_ref)

    def store(self, record: BuildRecord, *, shared_parts: bool = False) -> StoreResult:
        """Store a record; idempotent by build id; same-day duplicates become references.

        Secrets are redacted first (`buildcensus.redact`), so nothing secret-looking is stored.
        Returns only once the write is durable (with group commit: after a shared sync).

        `shared_parts=True` is a promise by the caller that `record.config` and
        `record.packages` are never changed once stored (the simulator reuses one object for
        every build with the same config or package lists): their redacted, dehydrated form
        is then remembered by object identity instead of being serialized for every build.
        What is stored is the same either way.
        """
        result = self._store(record, shared_parts)
        self.sync()
        return result

    def store_document(
        self, doc: dict[str, Any], *, sync: bool = True, aliases: dict[str, bytes] | None = None
    ) -> StoreResult:
        """`store` for a record already validated into JSON types: what
        `parse_record_document` returns (the same as `record.to_json_dict()`), so nothing is
        serialized again. Stores exactly what `store` stores for that record. `doc` is the
        caller's no more: it is taken apart and changed. Its `config` or `packages` may be
        given as the `Part` that `known_part` returned for it; `aliases` names the key under
        which to remember a part given as its value (`document_part`).

        `sync=False` returns before the write is durable: the caller must call `sync()` (or
        await `sync_async()`) before it relies on it, e.g. acknowledges it.
        """
        result = self.commit(self.prepare_document(doc, aliases))
        if sync:
            self.sync()
        return result

    def sync(self) -> None:
        """Make every write this process made so far durable (a no-op where each write
        already is)."""
        sync = getattr(self.storage, "sync", None)
        if sync is not None:
            sync()

    async def sync_async(self) -> None:
        """`sync` for a coroutine; waits without holding a thread where the storage can
        (`LocalStorage` with group commit), else in a worker thread."""
        wait = getattr(self.storage, "sync_async", None)
        if wait is not None:
            await wait()
        elif getattr(self.storage, "sync", None) is not None:
            await asyncio.to_thread(self.sync)

    def _part(self, name: str, model: Any, shared: bool) -> Part:
        """The redacted, dehydrated form of `record.config` or `record.packages` (writes the
        blobs it refers to), remembered by content (or, `shared`, by object identity)."""
        if shared:
            hit = self._shared.get(id(model))
            if (
                hit is not None
                and hit[0]() is model
                and self._known_blobs.issuperset(hit[1].digests)
            ):
                return hit[1]
        part = self._part_of(name, model.model_dump(mode="json"))
        if shared:
            ident = id(model)
            shared_map = self._shared
            ref = weakref.ref(model, lambda _r, i=ident, m=shared_map: m.pop(i, None))
            shared_map[ident] = (ref, part)
        return part

    def document_part(
        self,
        name: str,
        value: Any,
        alias: bytes | None = None,
        pending: list[tuple[str, bytes]] | None = None,
    ) -> Part:
        """The stored form of a validated `config` or `packages` (JSON types, which may be
        changed; its blobs are written, or with `pending` added to it for `commit` to
        write), remembered by content and, given an `alias`, under that key too
        (`known_part`: once its blobs are known to be stored)."""
        part = self._part_of(name, value, pending)
        if alias is not None:
            self._remember(alias, part)
        return part

    def known_part(self, key: bytes) -> Part | None:
        """The part remembered under `key` by `document_part`, while its blobs are known to
        be stored; else None.

        The ingest service keys a part by the hash of the JSON it received, so a package
        list it has seen before is not validated, redacted and hashed again.
        """
        part = self._parts.get(key)
        if part is None or not self._known_blobs.issuperset(part.digests):
            return None
        return part

    def _remember(self, key: bytes, part: Part) -> None:
        if len(self._parts) >= _PART_CACHE_SIZE:
            try:  # oldest first; another thread (the ingest service) may evict too
                self._parts.pop(next(iter(self._parts)), None)
            except (StopIteration, RuntimeError):
                pass
        self._parts[key] = part

    def _part_of(
        self, name: str, value: Any, pending: list[tuple[str, bytes]] | None = None
    ) -> Part:
        """`_part` of a part as JSON types (which may be changed), remembered by content
        (`pending`: as `_put_blob`)."""
        ckey = hashlib.sha256(orjson.dumps(value)).digest() + name.encode()
        part = self.known_part(ckey)
        if part is None:
            value, n = redact_part(name, value)
            digests: list[str] = []

            def blob_ref(v: Any) -> Any:
                ref = self._blob_ref(v, pending)
                if ref is not v:
                    digests.append(ref["$blob"])
                return ref

            part = Part(_map_part(name, value, blob_ref), n, tuple(digests))
            self._remember(ckey, part)
        return part

    def _check_not_forgotten(self, slug: str) -> None:
        if self.storage.exists(forgotten_key(slug)):
            raise LakeError(f"project {slug} opted out (forgotten): not stored")

    def _store(self, record: BuildRecord, shared_parts: bool = False) -> StoreResult:
        self._check_not_forgotten(record.project.slug)
        # The light part of the record, then the heavy parts (each serialized, redacted and
        # hashed once per content, not once per build).
        doc = record.model_dump(mode="json", exclude=set(_PART_NAMES))
        parts = [self._part(name, getattr(record, name), shared_parts) for name in _PART_NAMES]
        return self.commit(self._prepare(doc, parts, record.build.start, record.build.id))

    def prepare_document(
        self, doc: dict[str, Any], aliases: dict[str, bytes] | None = None
    ) -> Prepared:
        """`store_document` up to the checks and writes (`commit`): refuses a forgotten
        project (LakeError), redacts, and makes the document's bytes; the blobs of parts new
        to the lake go with it, for `commit` to write. Takes `doc` and `aliases` as
        `store_document` does."""
        self._check_not_forgotten(doc["project"]["slug"])
        parts = []
        pending: list[tuple[str, bytes]] = []
        for name in _PART_NAMES:  # each a Part already (`known_part`), or its value
            value = doc.pop(name)
            if type(value) is not Part:
                value = self.document_part(name, value, (aliases or {}).get(name), pending)
            parts.append(value)
        build = doc["build"]
        start = datetime.fromisoformat(build["start"])
        return self._prepare(doc, parts, start, build["id"], tuple(pending))

    def _prepare(
        self,
        doc: dict[str, Any],
        parts: list[Part],
        start: datetime,
        bid: int | str,
        blobs: tuple[tuple[str, bytes], ...] = (),
    ) -> Prepared:
        """The light part `doc` (redacted here) with the record's dehydrated parts, ready to
        commit."""
        redact_document(doc)
        heavy = 0
        for name, part in zip(_PART_NAMES, parts, strict=True):
            doc[name] = part.refs
            heavy += part.redactions
        if heavy:
            doc["redactions"] = doc.get("redactions", 0) + heavy
        fp = _fingerprint_refs(doc)
        return Prepared(
            build_key(start, bid),
            duplicate_key(start, bid),
            dedup_key(start, fp),
            canonical(doc),
            fp,
            bid,
            blobs,
        )

    def commit(self, prepared: Prepared) -> StoreResult:
        """Store a prepared build document (not synced: see `store_document(sync=False)`):
        a build id stored again is idempotent (LakeError when its content differs), a
        same-day duplicate becomes a reference to the first document."""
        p = prepared
        for digest, data in p.blobs:  # first: the document refers to them
            self._store_blob(digest, data)
        # A re-stored build id is idempotent (a build already stored in full is caught when
        # its document cannot be created below).
        if self.storage.exists(p.duplicate_key):
            return self._restored(p.duplicate_key, p.build_id, p.fingerprint)
        target = self._marker_target(p.marker)
        if target is not None and target != p.key:
            if self.storage.exists(p.key):
                return self._restored(p.key, p.build_id, p.fingerprint)
            self.storage.put(p.duplicate_key, canonical(_duplicate_reference(p.data, target)))
            return StoreResult("duplicate", p.duplicate_key, target)
        if not self.storage.put_if_absent(p.key, p.data):
            return self._restored(p.key, p.build_id, p.fingerprint)
        if not self._mark(p.marker, p.key):
            # Crash leftovers or a concurrent writer: point the marker at a live document.
            if self._marker_target(p.marker) is None:
                self.storage.put(p.marker, p.key.encode())
        return StoreResult("stored", p.key)

    def _mark(self, marker: str, key: str) -> bool:
        """Create the same-day marker of the document at `key` unless it exists: a second name
        of the document where the storage can link (a local directory: no file to write),
        else an object holding the key."""
        link = getattr(self.storage, "link_if_absent", None)
        if link is not None:
            return bool(link(key, marker))
        return self.storage.put_if_absent(marker, key.encode())

    def _restored(self, existing: str, bid: int | str, fp: str) -> StoreResult:
        """A build id stored again: fine with the same content, an error with other content."""
        if fingerprint(self.load(existing)) != fp:
            raise LakeError(f"build {bid} is already stored with different content")
        return StoreResult("duplicate", existing, self._duplicate_target(existing))

    def _duplicate_target(self, key: str) -> str | None:
        if key.startswith(DUPLICATES):
            return orjson.loads(self.storage.get(key))["duplicate_of"]
        return None

    def _marker_target(self, marker: str) -> str | None:
        try:
            target = marker_target(self.storage.get(marker))
        except NotFoundError:
            return None
        return target if target is not None and self.storage.exists(target) else None

    # ----------------------------------------------------------------- reading

    def _blob(self, digest: str) -> Any:
        value = self._blob_cache.get(digest)
        if value is None:
            value = orjson.loads(self.storage.get(blob_key(digest)))
            if len(self._blob_cache) >= self._blob_cache_size:
                self._blob_cache.pop(next(iter(self._blob_cache)))
            self._blob_cache[digest] = value
        return value

    def hydrate(self, doc: dict[str, Any]) -> dict[str, Any]:
        """Replace blob references with their content (a new dict; the cache is shared)."""
        return _map_heavy(doc, lambda v: self._blob(v["$blob"]) if _is_ref(v) else v)

    def read_raw(self, key: str) -> dict[str, Any]:
        """A stored document as written (references not resolved)."""
        try:
            doc = orjson.loads(self.storage.get(key))
        except orjson.JSONDecodeError as exc:
            raise LakeError(f"{key}: malformed JSON: {exc}") from None
        if not isinstance(doc, dict):
            raise LakeError(f"{key}: not a JSON object")
        return doc

    def load(self, key: str) -> dict[str, Any]:
        """The full record (as JSON types) behind a build or duplicate key."""
        doc = self.read_raw(key)
        if "duplicate_of" in doc:
            original = self.hydrate(self.read_raw(doc["duplicate_of"]))
            return {
                **original,
                "build": {**original["build"], **doc["build"]},
                "collector": doc.get("collector", original["collector"]),
            }
        return self.hydrate(doc)

    def find(self, ref: str) -> str:
        """Resolve a build id or a key to a key."""
        if "/" in ref:
            if not ref.startswith((BUILDS + "/", DUPLICATES + "/")):
                raise NotFoundError(f"not a build key: {ref}")
            if not self.storage.exists(ref):
                raise NotFoundError(f"not in the lake: {ref}")
            return ref
        for key in self.iter_keys():
            if build_id_from_key(key) == ref:
                return key
        raise NotFoundError(f"no build with id {ref} in the lake")

    def get(self, ref: str) -> dict[str, Any]:
        """The full record for a build id or key."""
        return self.load(self.find(ref))

    def iter_keys(self, prefix: str = "") -> Iterator[str]:
        """Every build and duplicate document key (sorted within each kind)."""
        for base in (BUILDS, DUPLICATES):
            yield from sorted(
                k
                for k in self.storage.list(f"{base}/{prefix}" if prefix else base)
                if k.endswith(".json")
            )


@dataclass(frozen=True)
class ForgetSummary:
    """What `Lake.forget` removed."""

    project: str
    documents: int
    blobs: int
    markers: int


def _blob_refs(doc: dict[str, Any]) -> set[str]:
    refs: set[str] = set()
    for path in HEAVY_PATHS:
        value: Any = doc
        for p in path:
            value = value.get(p) if isinstance(value, dict) else None
        if _is_ref(value):
            refs.add(value["$blob"])
    return refs


def forget_project(lake: Lake, project: str, now: datetime) -> ForgetSummary:
    """Delete every raw document of a project, its orphaned blobs, and leave a tombstone.

    The tombstone (`telemetry/forgotten/{project}.json`) makes later imports and stores skip
    the project, so a deleted project never comes back from a retry or a stale copy.
    """
    if not is_project_slug(project):
        raise LakeError(f"invalid project slug: {project!r}")
    lake.storage.put(forgotten_key(project), canonical({"project": project, "at": now.isoformat()}))
    doomed: list[str] = []
    doomed_refs: set[str] = set()
    kept_refs: set[str] = set()
    for key in lake.iter_keys():
        try:
            doc = lake.read_raw(key)
        except LakeError:
            continue
        slug = doc.get("project")
        slug = slug.get("slug") if isinstance(slug, dict) else slug
        if slug == project:
            doomed.append(key)
            if "duplicate_of" not in doc:
                doomed_refs |= _blob_refs(doc)
        else:
            kept_refs |= _blob_refs(doc) if "duplicate_of" not in doc else set()
    doomed_set = set(doomed)
    markers = 0
    for marker in list(lake.storage.list(DEDUP)):
        try:
            target = marker_target(lake.storage.get(marker))
        except NotFoundError:
            continue
        if target in doomed_set:
            lake.storage.delete(marker)
            markers += 1
    for key in doomed:
        lake.storage.delete(key)
    orphans = doomed_refs - kept_refs
    for digest in orphans:
        lake.storage.delete(blob_key(digest))
    lake._known_blobs -= orphans
    lake._blob_cache.clear()
    return ForgetSummary(project, len(doomed), len(orphans), markers)


def forgotten_projects(lake: Lake) -> set[str]:
    """Slugs of projects that asked to be forgotten."""
    return {
        k.rsplit("/", 1)[-1].removesuffix(".json")
        for k in lake.storage.list(FORGOTTEN)
        if k.endswith(".json")
    }


def open_lake(url: str, durable: bool = True, group_commit: bool = False) -> Lake:
    """Open the lake at a path or URL (`durable=False`: no per-file fsync, for bulk loads;
    `group_commit=True`: concurrent stores share one file-system sync before returning)."""
    return Lake(open_storage(url, durable=durable, group_commit=group_commit))
