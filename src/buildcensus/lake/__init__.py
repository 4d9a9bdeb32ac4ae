"""The lake: raw build documents in object storage, laid out by date.

Heavy repeated parts (configs, package lists) are stored once, content-addressed, and the
build document refers to them as `{"$blob": "<sha256>"}`. Same-day duplicates (same project,
version and content, ignoring id, start, length and the collector's own timing) are recorded
as small reference documents under `telemetry/duplicates/`, so build counts stay right.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

import orjson

from buildcensus.errors import LakeError, NotFoundError
from buildcensus.lake.keys import (
    BUILDS,
    DUPLICATES,
    blob_key,
    build_id_from_key,
    build_key,
    dedup_key,
    duplicate_key,
)
from buildcensus.lake.storage import LocalStorage, Storage, open_storage
from buildcensus.record import BuildRecord
from buildcensus.redact import redact_record

__all__ = [
    "HEAVY_PATHS",
    "Lake",
    "LocalStorage",
    "Storage",
    "StoreResult",
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


def fingerprint(doc: dict[str, Any]) -> str:
    """Content hash of a record, ignoring build id, start, length and collector timing."""
    build = {k: v for k, v in doc["build"].items() if k not in ("id", "start", "length")}
    collector = {k: v for k, v in doc.get("collector", {}).items() if k != "seconds"}
    return hashlib.sha256(canonical({**doc, "build": build, "collector": collector})).hexdigest()


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

    @property
    def url(self) -> str:
        return self.storage.url

    # ----------------------------------------------------------------- writing

    def _put_blob(self, value: Any) -> str:
        data = canonical(value)
        digest = hashlib.sha256(data).hexdigest()
        if digest not in self._known_blobs:
            key = blob_key(digest)
            if not self.storage.exists(key):
                self.storage.put_if_absent(key, data)
            self._known_blobs.add(digest)
        return digest

    def dehydrate(self, doc: dict[str, Any]) -> dict[str, Any]:
        """Replace heavy parts with blob references (writes the blobs)."""
        out = {**doc, "config": dict(doc["config"]), "packages": dict(doc["packages"])}
        for eco in ("pip", "conda", "apt"):
            out["packages"][eco] = dict(doc["packages"][eco])
        for path in HEAVY_PATHS:
            parent = out
            for p in path[:-1]:
                parent = parent[p]
            value = parent[path[-1]]
            if value:  # empty lists and nulls stay inline
                parent[path[-1]] = {"$blob": self._put_blob(value)}
        return out

    def store(self, record: BuildRecord) -> StoreResult:
        """Store a record; idempotent by build id; same-day duplicates become references.

        Secrets are redacted first (`buildcensus.redact`), so nothing secret-looking is stored.
        """
        doc = redact_record(record).to_json_dict()
        start, bid = record.build.start, record.build.id
        key = build_key(start, bid)
        dkey = duplicate_key(start, bid)
        fp = fingerprint(doc)
        # A re-stored build id is idempotent.
        for existing in (key, dkey):
            if self.storage.exists(existing):
                if fingerprint(self.load(existing)) != fp:
                    raise LakeError(f"build {bid} is already stored with different content")
                target = self._duplicate_target(existing)
                return StoreResult("duplicate", existing, target)
        marker = dedup_key(start, fp)
        target = self._marker_target(marker)
        if target is not None and target != key:
            ref = {
                "schema_version": doc["schema_version"],
                "duplicate_of": target,
                "project": doc["project"]["slug"],
                "version": doc["version"]["slug"],
                "build": {k: doc["build"][k] for k in ("id", "start", "length")},
            }
            self.storage.put(dkey, canonical(ref))
            return StoreResult("duplicate", dkey, target)
        self.storage.put(key, canonical(self.dehydrate(doc)))
        if not self.storage.put_if_absent(marker, key.encode()):
            # Crash leftovers or a concurrent writer: point the marker at a live document.
            if self._marker_target(marker) is None:
                self.storage.put(marker, key.encode())
        return StoreResult("stored", key)

    def _duplicate_target(self, key: str) -> str | None:
        if key.startswith(DUPLICATES):
            return orjson.loads(self.storage.get(key))["duplicate_of"]
        return None

    def _marker_target(self, marker: str) -> str | None:
        try:
            target = self.storage.get(marker).decode()
        except NotFoundError:
            return None
        return target if self.storage.exists(target) else None

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
        out = {**doc, "config": dict(doc["config"]), "packages": dict(doc["packages"])}
        for eco in ("pip", "conda", "apt"):
            out["packages"][eco] = dict(doc["packages"][eco])
        for path in HEAVY_PATHS:
            parent = out
            for p in path[:-1]:
                parent = parent[p]
            value = parent[path[-1]]
            if isinstance(value, dict) and set(value) == {"$blob"}:
                parent[path[-1]] = self._blob(value["$blob"])
        return out

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
            return {**original, "build": {**original["build"], **doc["build"]}}
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


def open_lake(url: str) -> Lake:
    """Open the lake at a path or URL."""
    return Lake(open_storage(url))
