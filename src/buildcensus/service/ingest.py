"""From request bodies to durable lake writes: validation, opt-outs, storing, per-item results.

Nothing is acknowledged before the write is durable: `LocalStorage` fsyncs each file and its
directory, or (the service's lake, group commit) the lake's `sync` has returned after the
write, so a 2xx means the record survives a crash. Storing is idempotent by build id, so a
client may always retry.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from buildcensus.errors import LakeError, RecordError, UsageError
from buildcensus.lake import Lake, LocalStorage, Part, Prepared, StoreResult
from buildcensus.lake.keys import forgotten_key
from buildcensus.lake.locks import BuildIdLocks
from buildcensus.lake.writer import WriterProcess
from buildcensus.record import MAX_DEPTH, BuildRecord, parse_record, parse_record_document
from buildcensus.service.http_errors import ApiError, json_response
from buildcensus.service.limits import (
    JSON_TYPES,
    NDJSON_TYPES,
    check_shape,
    decode_json,
    depth_within,
    lengths_fit,
    media_type,
    read_body,
)
from buildcensus.service.metrics import Metrics
from buildcensus.service.settings import Limits

log = logging.getLogger("buildcensus.service")

# Larger single records are validated and stored on a worker thread, so that one huge record
# does not hold up every other request on the event loop (realistic records are 8-20 KB).
INLINE_MAX_BYTES = 256 * 1024

# How deep the containers of a valid record nest outside `config.user` and `config.final`: the
# record, `packages`, `pip`, `user`, one requirement, its `extras`.
RECORD_SKELETON_DEPTH = 6

# Every package list, empty: validates without a default factory (stands in for a `packages`
# object the lake knows; the validator does not change its input).
EMPTY_PACKAGES: dict[str, Any] = {
    "pip": {"user": [], "top_level": [], "all": []},
    "conda": {"user": [], "all": []},
    "apt": {"user": [], "all": []},
}

# What a `packages` object's JSON hash is suffixed with to key its part in the lake's cache
# (the lake's own keys end in a part name).
RAW_PACKAGES = b"\x00received packages"


# A validated document and the aliases to store it with (`Ingestor._validated`).
_Valid = tuple[dict[str, Any], dict[str, bytes]]


def packages_key(text: bytes | memoryview) -> bytes:
    """The memo key of a `packages` object received as the JSON `text` (see `known_part`)."""
    return hashlib.sha256(text).digest() + RAW_PACKAGES


def packages_span(body: bytes) -> tuple[int, int] | None:
    """Where the text of a record's `packages` object probably is in the JSON `body`, found
    without parsing it, or None: from after the first `"packages":` to the last
    `,"doctool":` (which follows it in records as `BuildRecord` serializes them, compactly),
    with no other `"packages"` and no `\\u` escape outside that text (so no other key
    outside it can be spelled `packages`). A guess, which the caller checks
    (`Ingestor._parse_fast`)."""
    key = body.find(b'"packages"')
    end = body.rfind(b'},"doctool":') + 1
    start = key + len(b'"packages":')
    if key < 0 or end <= start or body[start - 1 : start + 1] != b":{":
        return None
    if body.find(b'"packages"', end) >= 0 or body.find(b"\\u", 0, start) >= 0:
        return None
    if body.find(b"\\u", end) >= 0:
        return None
    return start, end


def _stored(result: StoreResult, build_id: int | str) -> Outcome:
    """The outcome of a record the lake stored, or found stored (a duplicate)."""
    status = 201 if result.status == "stored" else 200
    return Outcome(result.status, status, result.key, result.duplicate_of, build_id)


def batch_answer(outcomes: list[Outcome]) -> Response:
    """The answer to `POST /api/v1/builds/batch`: one result per item, and counts."""
    body = {
        "results": [{"index": i, **o.to_json()} for i, o in enumerate(outcomes)],
        "stored": sum(o.status == "stored" for o in outcomes),
        "duplicates": sum(o.status == "duplicate" for o in outcomes),
        "rejected": sum(o.status == "rejected" for o in outcomes),
    }
    return json_response(body)


@dataclass(frozen=True)
class Outcome:
    """What became of one posted record."""

    status: Literal["stored", "duplicate", "rejected"]
    http_status: int
    key: str | None = None
    duplicate_of: str | None = None
    build_id: int | str | None = None
    error: ApiError | None = None

    def to_json(self) -> dict[str, Any]:
        """The JSON object the API returns for this record."""
        if self.error is not None:
            return {
                "status": "rejected",
                "http_status": self.http_status,
                "error": self.error.detail(),
            }
        return {
            "status": self.status,
            "http_status": self.http_status,
            "key": self.key,
            "build_id": self.build_id,
            "duplicate": self.status == "duplicate",
            "duplicate_of": self.duplicate_of,
        }

    @classmethod
    def rejected(cls, error: ApiError) -> Outcome:
        """The outcome of a record refused with `error`."""
        return cls("rejected", error.status, error=error)

    def response(self) -> Response:
        """The answer to `POST /api/v1/builds` for this record (stored or duplicate)."""
        return json_response(self.to_json(), self.http_status)


class OptOutList:
    """Opted-out project slugs, one per line (`#` comments); re-read when the file changes."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._slugs: frozenset[str] = frozenset()
        self._stamp: tuple[int, int] | None = None
        self._lock = threading.Lock()
        if path is not None:
            if not path.is_file():
                raise UsageError(f"exclude-projects file not found: {path}")
            self._refresh()

    def _refresh(self) -> None:
        assert self.path is not None
        try:
            st = self.path.stat()
            stamp: tuple[int, int] | None = (st.st_mtime_ns, st.st_size)
            if stamp == self._stamp:
                return
            text = self.path.read_text(encoding="utf-8")
        except OSError as exc:  # keep the last good list; say so
            log.error("cannot read exclude-projects file %s: %s", self.path, exc)
            return
        slugs = (line.split("#", 1)[0].strip() for line in text.splitlines())
        with self._lock:
            self._slugs = frozenset(s for s in slugs if s)
            self._stamp = stamp

    def __contains__(self, slug: object) -> bool:
        if self.path is None:
            return False
        self._refresh()
        return slug in self._slugs


def _record_error(exc: RecordError) -> ApiError:
    if exc.path == "schema_version" and exc.message.startswith("unknown schema version"):
        return ApiError(422, "unknown_schema_version", exc.message, exc.path)
    return ApiError(422, "invalid_record", exc.message, exc.path)


class Ingestor:
    """Validates and stores records; counts every outcome in `metrics`."""

    def __init__(
        self,
        lake: Lake,
        limits: Limits,
        optout: OptOutList,
        metrics: Metrics,
        store_threads: int = 8,
        lock_file: Path | None = None,
        writer: bool = False,
    ) -> None:
        self.lake = lake
        self.limits = limits
        self.optout = optout
        self.metrics = metrics
        self._pool = ThreadPoolExecutor(max_workers=store_threads, thread_name_prefix="store")
        self._locks = BuildIdLocks(lock_file)
        # Single records are ingested on the event loop when storing cannot block it for long
        # (a local directory, not a network store) and the record is not huge.
        self.inline = isinstance(lake.storage, LocalStorage)
        # Batches are stored on one thread and synced once when the lake has group commit
        # (else on a few threads, so that their per-file fsyncs or network puts overlap).
        self._group_commit = self.inline and lake.storage.group_commit
        # `writer`: the records the fast path stores (single posts, small batches) are
        # committed by a writer process (`lake.writer`), started with the app (or by the
        # first of them) and used once it is ready.
        self._lock_file = lock_file
        self._writer: WriterProcess | None = None
        self._writer_wanted = writer and self._group_commit

    def validate(self, value: Any, size: int | None = None) -> BuildRecord:
        """A valid record, or ApiError 422 naming the field path.

        `size`: bytes of the JSON text `value` was decoded from (lets the limits walk skip
        length checks that cannot fail).
        """
        check_shape(value, self.limits, size)
        try:
            record = parse_record(value, check_depth=self._parse_checks_depth())
        except RecordError as exc:
            raise _record_error(exc) from None
        self._check_opt_out(record.project.slug)
        return record

    def validate_document(self, value: Any, size: int | None = None) -> dict[str, Any]:
        """`validate(value, size).to_json_dict()` (the same checks and errors), without
        building the model."""
        doc, _ = self._validated(value, size, remember=False)
        return doc

    def _validated(self, value: Any, size: int | None, remember: bool = True) -> _Valid:
        """`validate_document`, and the `aliases` to store the document with. With
        `remember`, a `packages` object received before (the same JSON) is not validated
        again: the document holds the lake's `Part` for it (see `Lake.known_part`)."""
        memo = self._memo_of(value) if remember else None
        found = self._valid_within_limits(value, size, memo)
        if found is None:  # the limits first, then the record's own rules
            check_shape(value, self.limits, size)
            try:
                doc = parse_record_document(value, check_depth=self._parse_checks_depth())
            except RecordError as exc:
                raise _record_error(exc) from None
            found = doc, {}
        self._check_opt_out(found[0]["project"]["slug"])
        return found

    def _memo_of(self, value: Any) -> tuple[bytes, Part | None] | None:
        """The memo key of a parsed record's `packages` object (its JSON text as orjson
        writes it) and the part the lake remembers under it, if any."""
        packages = value.get("packages") if type(value) is dict else None
        if type(packages) is not dict:
            return None
        key = packages_key(orjson.dumps(packages))
        return key, self.lake.known_part(key)

    def _valid_within_limits(
        self, value: Any, size: int | None, memo: tuple[bytes, Part | None] | None = None
    ) -> _Valid | None:
        """The validated document (and aliases) of a current-shape record that is within the
        limits, or None when that cannot be shown cheaply (nothing is raised: the caller then
        checks the limits and validates as always, so errors come out as always).

        Validating first is cheaper than the limits walk over every package: of a valid
        record, only `config.user` and `config.final` (any JSON) can nest deeper than
        RECORD_SKELETON_DEPTH, and when `size` bytes cannot hold too long a string or list
        (`lengths_fit`), only depth can break a limit.

        `memo`: the key of the record's `packages` text (`packages_key`) and the part the
        lake remembers under it. `packages` is validated on its own (no other field's rules
        look at it), so a remembered one was valid, within these limits, and gives the same
        stored part: it is not looked at (it may even be a placeholder) and its `Part` is
        put in its place. Otherwise the part will be remembered under the key (`aliases`).
        """
        limits = self.limits
        if (
            size is None
            or type(value) is not dict
            or "schema_version" not in value
            or not lengths_fit(size, limits)
            or limits.max_depth < RECORD_SKELETON_DEPTH
            or self._parse_checks_depth()
        ):
            return None
        aliases: dict[str, bytes] = {}
        known = None
        if memo is not None:
            key, known = memo
            if known is None:
                aliases["packages"] = key
            else:
                value = {**value, "packages": EMPTY_PACKAGES}
        try:
            doc = parse_record_document(value, check_depth=False)
        except Exception:  # noqa: BLE001 - the usual order of checks raises it again
            return None
        config = value.get("config") or {}  # valid: absent or an object
        for key in ("user", "final"):  # at depth 3 (the record and `config` are 1 and 2)
            part = config.get(key)
            if part is not None and not depth_within(part, limits.max_depth - 2):
                return None
        if known is not None:
            doc["packages"] = known
        return doc, aliases

    def _parse_checks_depth(self) -> bool:
        # The limits walk bounded the depth already when its limit is the tighter one (it
        # counts containers; parse_record's walk counts the scalars inside as a level too).
        return self.limits.max_depth >= MAX_DEPTH

    def _check_opt_out(self, slug: str) -> None:
        if slug in self.optout:
            raise ApiError(
                422,
                "project_opted_out",
                f"project {slug!r} opted out of build telemetry",
                "project.slug",
            )

    def _store_unsynced(
        self, doc: dict[str, Any], aliases: dict[str, bytes] | None = None
    ) -> Outcome:
        """Store what `_validated` returned (which is used up), up to the durable sync, which
        the caller owes before answering; 409 when the build id exists with other content,
        422 when the project was forgotten (`buildcensus forget`).

        The build id's lock covers the check-then-write of `Lake.store_document`, not the
        sync: a writer that finds this record (stored or duplicate) syncs after finding it.
        """
        build_id = doc["build"]["id"]
        slug = doc["project"]["slug"]
        try:
            with self._locks.hold(build_id):
                result = self.lake.store_document(doc, sync=False, aliases=aliases)
        except LakeError as exc:
            raise self._refused(exc, slug) from None
        return _stored(result, build_id)

    def _refused(self, exc: LakeError, slug: str) -> ApiError:
        """The answer to a store the lake refused: the project was forgotten (422), or the
        build id holds other content (409)."""
        if self.lake.storage.exists(forgotten_key(slug)):
            return ApiError(422, "project_opted_out", str(exc), "project.slug")
        return ApiError(409, "conflict", str(exc), "build.id")

    def _counted(self, outcome: Outcome) -> Outcome:
        self.metrics.record(outcome.status, outcome.error.code if outcome.error else None)
        return outcome

    def _store_counted(self, valid: _Valid) -> Outcome:
        try:
            outcome = self._store_unsynced(*valid)
            self.lake.sync()
            return self._counted(outcome)
        except ApiError as exc:
            return self._counted(Outcome.rejected(exc))

    def _ingest_unsynced(self, value: Any, size: int | None) -> Outcome:
        """Validate and store one parsed record, not yet durable; errors become a rejected
        Outcome (not counted yet)."""
        try:
            return self._store_unsynced(*self._validated(value, size))
        except ApiError as exc:
            return Outcome.rejected(exc)

    def ingest(self, value: Any, size: int | None = None) -> Outcome:
        """Validate and store one parsed record (blocking); errors become a rejected Outcome."""
        outcome = self._ingest_unsynced(value, size)
        if outcome.error is None:
            self.lake.sync()
        return self._counted(outcome)

    def ingest_many(
        self, items: list[Any | ApiError], sizes: list[int] | None = None
    ) -> list[Outcome]:
        """Validate every item, then store the valid ones (blocking); results in input order.

        With group commit, the records are stored in turn and made durable by one sync;
        otherwise stores run on a few threads so their fsyncs overlap (a lone client sending
        batches would otherwise wait for every fsync in turn). A build id repeated within the batch
        is stored after its first occurrence, so the repeat is reported as a duplicate.
        Error paths are relative to the item. `sizes`: bytes of each item's JSON text (or an
        upper bound), as for `validate`.
        """
        outcomes, first, repeats = self._validated_items(items, sizes)
        if self._group_commit:
            done: list[Outcome] = []
            try:
                self._store_in_turn(first + repeats, outcomes, done)
            finally:  # also when storing failed midway: what was stored is made durable
                if any(o.error is None for o in done):
                    self.lake.sync()
                self._count_all(done)
            return [o for o in outcomes if o is not None]
        stored = self._pool.map(self._store_counted, [v for _, v in first])
        for (i, _), outcome in zip(first, stored, strict=True):
            outcomes[i] = outcome
        for i, valid in repeats:
            outcomes[i] = self._store_counted(valid)
        return [o for o in outcomes if o is not None]

    async def _ingest_many_inline(
        self, items: list[Any | ApiError], sizes: list[int] | None
    ) -> list[Outcome]:
        """`ingest_many` with group commit, on the event loop: a small batch (one record, as
        `buildcensus submit` sends a build's) costs no trip to a thread, and its sync is
        awaited, not waited for."""
        return await self._store_inline(*self._validated_items(items, sizes))

    async def _store_inline(
        self,
        outcomes: list[Outcome | None],
        first: list[tuple[int, _Valid]],
        repeats: list[tuple[int, _Valid]],
    ) -> list[Outcome]:
        """The storing half of `_ingest_many_inline`: what `_validated_items` returned."""
        writer = self._ready_writer()
        if writer is not None:
            await self._store_by_writer(writer, first + repeats, outcomes)
            return [o for o in outcomes if o is not None]
        done: list[Outcome] = []
        try:
            self._store_in_turn(first + repeats, outcomes, done)
        finally:  # also when storing failed midway: what was stored is made durable
            if any(o.error is None for o in done):
                await self.lake.sync_async()
            self._count_all(done)
        return [o for o in outcomes if o is not None]

    async def _store_by_writer(
        self, writer: WriterProcess, docs: list[tuple[int, _Valid]], outcomes: list[Outcome | None]
    ) -> None:
        """`_store_in_turn` and the sync, by the writer process: every document is prepared
        and handed over in order (so a repeated build id comes after its first), then each
        answer goes into `outcomes` (counted). An internal error is raised once every
        answer is in."""
        handed: list[tuple[int, str, Prepared, asyncio.Future[StoreResult]]] = []
        failure: BaseException | None = None
        for i, (doc, aliases) in docs:
            slug = doc["project"]["slug"]
            try:
                prepared = self.lake.prepare_document(doc, aliases)
                fut = writer.submit(prepared)
            except LakeError as exc:
                outcomes[i] = self._counted(Outcome.rejected(self._refused(exc, slug)))
                continue
            except Exception as exc:  # noqa: BLE001 - as `_store_in_turn`: stop here, but
                failure = exc  # what was handed over is answered and counted first
                break
            handed.append((i, slug, prepared, fut))
        for i, slug, prepared, fut in handed:
            try:
                result = await fut
                self.lake.blobs_stored(prepared)
                outcomes[i] = self._counted(_stored(result, prepared.build_id))
            except LakeError as exc:
                outcomes[i] = self._counted(Outcome.rejected(self._refused(exc, slug)))
            except Exception as exc:  # noqa: BLE001 - raised below, after the others
                failure = failure or exc
        if failure is not None:
            raise failure

    def _validated_items(
        self, items: list[Any | ApiError], sizes: list[int] | None
    ) -> tuple[list[Outcome | None], list[tuple[int, _Valid]], list[tuple[int, _Valid]]]:
        """The rejected items' outcomes (counted), and the valid ones as (index, validated):
        first occurrences of build ids, then repeats (to store after them)."""
        outcomes: list[Outcome | None] = [None] * len(items)
        first: list[tuple[int, _Valid]] = []
        repeats: list[tuple[int, _Valid]] = []
        seen: set[str] = set()  # str: ids 5 and "5" name the same storage key
        for i, item in enumerate(items):
            try:
                if isinstance(item, ApiError):
                    raise item
                valid = self._validated(item, sizes[i] if sizes is not None else None)
            except ApiError as exc:
                outcomes[i] = self._counted(Outcome.rejected(exc))
                continue
            bid = str(valid[0]["build"]["id"])
            (repeats if bid in seen else first).append((i, valid))
            seen.add(bid)
        return outcomes, first, repeats

    def _store_in_turn(
        self,
        docs: list[tuple[int, _Valid]],
        outcomes: list[Outcome | None],
        done: list[Outcome],
    ) -> None:
        """With group commit, storing is CPU work and one shared sync (the caller's) makes it
        all durable: store in order, each outcome into `outcomes` and `done` (what threads
        would do, without a thread and a sync per record)."""
        for i, valid in docs:
            try:
                outcome = self._store_unsynced(*valid)
            except ApiError as exc:
                outcome = Outcome.rejected(exc)
            outcomes[i] = outcome
            done.append(outcome)

    def _count_all(self, outcomes: list[Outcome]) -> None:
        for outcome in outcomes:
            self._counted(outcome)

    async def handle_one(self, request: Request) -> Outcome:
        """POST /api/v1/builds: one JSON record. Raises ApiError (counted) when rejected."""
        try:
            media_type(request, JSON_TYPES)
            body = await read_body(request, self.limits.max_body_bytes)
            value = decode_json(body, self.limits)
        except ApiError as exc:
            self.metrics.record("rejected", exc.code)
            raise
        if self.inline and len(body) <= INLINE_MAX_BYTES:
            # On the event loop: the CPU work costs the same on any thread, the trip to a
            # worker thread and back does not. The durable sync is awaited, not waited for.
            outcome = self._ingest_unsynced(value, len(body))
            if outcome.error is None:
                await self.lake.sync_async()
            self._counted(outcome)
        else:
            outcome = await run_in_threadpool(self.ingest, value, len(body))
        if outcome.error is not None:
            raise outcome.error
        return outcome

    async def ingest_fast(self, body: bytes) -> Outcome | None:
        """`handle_one` for a body already read, when the record is stored (or found) without
        an error on the event loop; None, having written nothing, when `handle_one` has to
        answer instead (malformed, outside the limits, invalid, opted out, refused by the
        lake) or the lake is not local. Raises only for what would be a 500 there too."""
        if not self.inline or len(body) > INLINE_MAX_BYTES:
            return None
        found = self._fast_valid(body, len(body))
        if found is None:
            return None
        writer = self._ready_writer()
        if writer is not None:
            return await self._ingest_by_writer(writer, *found)
        try:
            outcome = self._store_unsynced(*found)
        except ApiError:  # refused before writing anything (the route says why)
            return None
        await self.lake.sync_async()
        return self._counted(outcome)

    async def start_writer(self, wait: float = 0.0) -> bool:
        """Start the writer process now (the app's start-up), not with the first record;
        `wait`: seconds to wait for it to be ready. True when it is ready."""
        self._ready_writer()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        while self._writer is not None and self._writer.alive and not self._writer.ready:
            if loop.time() >= deadline:
                break
            await asyncio.sleep(0.01)
        return self._ready_writer() is not None

    def close(self) -> None:
        """Stop the writer process (the app's shutdown; it also stops when this process
        exits)."""
        if self._writer is not None:
            self._writer.close()

    def _ready_writer(self) -> WriterProcess | None:
        """The writer process when it is ready for this event loop (else None; the first
        call starts it)."""
        writer = self._writer
        if writer is None:
            if self._writer_wanted:
                self._writer_wanted = False  # one try
                root = self.lake.storage.root  # type: ignore[attr-defined] # _group_commit
                loop = asyncio.get_running_loop()
                self._writer = WriterProcess.start(root, self._lock_file, loop, self._commit_here)
            return None
        return writer if writer.usable else None

    async def _ingest_by_writer(
        self, writer: WriterProcess, doc: dict[str, Any], aliases: dict[str, bytes]
    ) -> Outcome | None:
        """`ingest_fast`'s storing by the writer process: the document is prepared here and
        committed (durably) there. None when the lake refuses it (the route says why)."""
        build_id = doc["build"]["id"]
        try:
            prepared = self.lake.prepare_document(doc, aliases)
            result = await writer.submit(prepared)
        except LakeError:
            return None
        self.lake.blobs_stored(prepared)
        return self._counted(_stored(result, build_id))

    async def _commit_here(self, prepared: Prepared) -> StoreResult:
        """What the writer process does, on the event loop (when it has died)."""
        with self._locks.hold(prepared.build_id):
            result = self.lake.commit(prepared)
        await self.lake.sync_async()
        return result

    def _parse_fast(self, body: bytes) -> tuple[Any, tuple[bytes, Part | None] | None]:
        """`orjson.loads(body)` and `_memo_of` it, without parsing or serializing a
        `packages` object the lake remembers when its text can be found (`packages_span`).

        The span is a guess, taken only once checked: the rest of the body, with a `0` in the
        place of the span, must parse with that `0` as the record's `packages` (the only key
        spelled `packages` outside the span is the one before it, so that is the record's),
        and the span must be the text of one JSON value: one the lake remembers by the hash
        of exactly this text, or else one that parses on its own. A JSON value ends where
        its text does, so the span then is exactly the record's `packages`.
        """
        span = packages_span(body)
        if span is not None:
            start, end = span
            key = packages_key(memoryview(body)[start:end])
            known = self.lake.known_part(key)
            try:
                value = orjson.loads(body[:start] + b"0" + body[end:])
                if type(value) is dict and type(value.get("packages")) is int:
                    if value["packages"] == 0:
                        if known is None:
                            value["packages"] = orjson.loads(body[start:end])
                        return value, (key, known)
            except orjson.JSONDecodeError:
                pass
        value = orjson.loads(body)
        return value, self._memo_of(value)

    async def ingest_batch_fast(self, body: bytes) -> list[Outcome] | None:
        """`handle_batch` for a JSON array already read, when it is small enough to store on
        the event loop; None, having written nothing, when `handle_batch` has to answer
        instead (malformed, not an array, too many items, or not a local lake). Items are
        checked, and rejected, one by one as there."""
        if not self._group_commit or len(body) > INLINE_MAX_BYTES:
            return None
        valid = self._one_valid_item(body)
        if valid is not None:  # what `buildcensus submit` sends: a build's record
            return await self._store_inline([None], [(0, valid)], [])
        try:
            items = orjson.loads(body)
        except orjson.JSONDecodeError:
            return None
        if type(items) is not list or len(items) > self.limits.max_batch:
            return None
        if not lengths_fit(len(body), self.limits):
            return None
        return await self._ingest_many_inline(items, [len(body)] * len(items))

    def _one_valid_item(self, body: bytes) -> _Valid | None:
        """The validated record of a batch of one valid record within the limits, parsed and
        validated as `ingest_fast` does a single record (a `packages` object the lake knows
        is not parsed or validated again); else None, and the batch takes the usual way."""
        text = body.strip()
        if text[:1] != b"[" or text[-1:] != b"]" or self.limits.max_batch < 1:
            return None
        return self._fast_valid(text[1:-1], len(body))  # None unless exactly one JSON value

    def _fast_valid(self, text: bytes, size: int) -> _Valid | None:
        """The validated record the JSON `text` holds (`_parse_fast`, `_valid_within_limits`
        for `size` bytes) when it is valid, within the limits and not opted out; else None,
        and the usual way gives the answer."""
        try:
            value, memo = self._parse_fast(text)
        except orjson.JSONDecodeError:
            return None
        found = self._valid_within_limits(value, size, memo)
        if found is None or found[0]["project"]["slug"] in self.optout:
            return None
        return found

    async def handle_batch(self, request: Request) -> list[Outcome]:
        """POST /api/v1/builds/batch: a JSON array or NDJSON; one Outcome per item."""
        mt = media_type(request, JSON_TYPES + NDJSON_TYPES)
        body = await read_body(request, self.limits.max_batch_bytes)
        sizes: list[int] | None
        if mt in NDJSON_TYPES:
            items, sizes = self._split_ndjson(body)
        else:
            items = self._split_array(body)
            sizes = [len(body)] * len(items)  # each item's text is shorter than the array's
            if not lengths_fit(len(body), self.limits):
                sizes = None  # each item's own, below
        if len(items) > self.limits.max_batch:
            raise ApiError(
                413,
                "batch_too_large",
                f"{len(items)} records in one batch; at most {self.limits.max_batch}",
            )
        if self._group_commit and len(body) <= INLINE_MAX_BYTES and sizes is not None:
            return await self._ingest_many_inline(items, sizes)
        return await run_in_threadpool(self._ingest_items, items, sizes)

    def _ingest_items(self, items: list[Any], sizes: list[int] | None) -> list[Outcome]:
        """`ingest_many`; without `sizes`, each item's is the length of its compact JSON text,
        which bounds its strings and lists as well as the text it came in (so a large batch
        of ordinary records is not walked for lengths item by item)."""
        if sizes is None:
            sizes = [len(orjson.dumps(item)) for item in items]
        return self.ingest_many(items, sizes)

    def _split_array(self, body: bytes) -> list[Any]:
        value = decode_json(body, self.limits)
        if not isinstance(value, list):
            raise ApiError(422, "invalid_request", "a batch must be a JSON array of records")
        return value

    def _split_ndjson(self, body: bytes) -> tuple[list[Any | ApiError], list[int]]:
        items: list[Any | ApiError] = []
        sizes: list[int] = []
        for line in body.splitlines():
            if line.strip():
                try:
                    items.append(decode_json(line, self.limits))
                except ApiError as exc:
                    items.append(exc)
                sizes.append(len(line))
        return items, sizes
