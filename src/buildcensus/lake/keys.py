"""Object keys: pure functions of their inputs (date and ids), so a retry never clashes."""

from __future__ import annotations

from datetime import date, datetime

from buildcensus.lake.storage import check_key
from buildcensus.names import is_build_id

BUILDS = "telemetry/builds"
DUPLICATES = "telemetry/duplicates"
BLOBS = "telemetry/blobs"
DEDUP = "telemetry/index/dedup"
FORGOTTEN = "telemetry/forgotten"


def _day(when: date | datetime) -> tuple[str, str, str]:
    return f"{when.year:04d}", f"{when.month:02d}", f"{when.day:02d}"


def _id(build_id: int | str) -> str:
    text = str(build_id)
    if not is_build_id(text):
        raise ValueError(f"invalid build id for a storage key: {text!r}")
    return text


def build_key(start: date | datetime, build_id: int | str) -> str:
    """`telemetry/builds/{year}/{month}/{year}-{month}-{day}-{id}.json` (UTC date of start)."""
    y, m, d = _day(start)
    return check_key(f"{BUILDS}/{y}/{m}/{y}-{m}-{d}-{_id(build_id)}.json")


def duplicate_key(start: date | datetime, build_id: int | str) -> str:
    """Where a same-day duplicate's reference (its own id, start, length) is kept."""
    y, m, d = _day(start)
    return check_key(f"{DUPLICATES}/{y}/{m}/{y}-{m}-{d}-{_id(build_id)}.json")


def blob_key(digest: str) -> str:
    """Content-addressed blob: `telemetry/blobs/{ab}/{sha256}.json`."""
    if len(digest) != 64 or digest.strip("0123456789abcdef"):
        raise ValueError(f"invalid blob digest: {digest!r}")
    return f"{BLOBS}/{digest[:2]}/{digest}.json"


def dedup_key(start: date | datetime, fingerprint: str) -> str:
    """Marker of a build's content (incl. project and version) on one UTC day."""
    y, m, d = _day(start)
    return check_key(f"{DEDUP}/{y}/{m}/{d}/{fingerprint}")


def build_id_from_key(key: str) -> str:
    """The build id part of a build or duplicate key."""
    name = key.rsplit("/", 1)[-1].removesuffix(".json")
    return name.split("-", 3)[3]


def forgotten_key(project: str) -> str:
    """Tombstone of a project that asked to be forgotten."""
    return check_key(f"{FORGOTTEN}/{project}.json")
