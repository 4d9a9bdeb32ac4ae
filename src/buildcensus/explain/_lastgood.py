"""Why did my build break: a project's latest failed build against the last good one before it.

Candidates come from the warehouse's `builds` table when there is one, else from a scan of the
lake; the choice itself (`pick_last_good`) is a pure function of the candidates.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from buildcensus.errors import NotFoundError
from buildcensus.lake import Lake


@dataclass(frozen=True)
class BuildRef:
    """Enough of a build to order it and load it: id, lake key, project, version, start, success."""

    build_id: str
    key: str
    project: str
    version: str
    start: datetime
    success: bool | None

    def order(self) -> tuple[datetime, int, int, str]:
        """Chronological order; equal starts fall back to the build id (numeric ids as numbers)."""
        bid = self.build_id
        return (self.start, 0 if bid.isdigit() else 1, int(bid) if bid.isdigit() else 0, bid)


def _utc(value: datetime | str) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def pick_last_good(
    builds: Iterable[BuildRef], project: str, version: str | None = None
) -> tuple[BuildRef, BuildRef]:
    """(last good, latest failed) of a project; across its versions unless `version` is given.

    The failed build is the project's latest build with `success` false; the good one is the
    latest successful build that started before it. Builds with unknown success are ignored.
    """
    mine = sorted(
        (b for b in builds if b.project == project and (version is None or b.version == version)),
        key=BuildRef.order,
    )
    where = f"project {project}" + (f" version {version}" if version else "")
    if not mine:
        raise NotFoundError(f"no builds of {where}")
    failed_at = next((i for i in range(len(mine) - 1, -1, -1) if mine[i].success is False), None)
    if failed_at is None:
        raise NotFoundError(f"no failed build of {where}")
    failed = mine[failed_at]
    good = next((b for b in reversed(mine[:failed_at]) if b.success is True), None)
    if good is None:
        raise NotFoundError(f"no successful build of {where} before failed build {failed.build_id}")
    return good, failed


# --------------------------------------------------------------------------- sources

BUILDS_SQL = (
    "SELECT build_id, key, project, version, start, success FROM builds "
    "WHERE project = $project AND ($version IS NULL OR version = $version)"
)


def builds_from_warehouse(con: Any, project: str, version: str | None = None) -> list[BuildRef]:
    """A project's builds from the warehouse `builds` table (a DB-API connection)."""
    rows = con.execute(BUILDS_SQL, {"project": project, "version": version}).fetchall()
    return [
        BuildRef(str(bid), key, proj, ver, _utc(start), success)
        for bid, key, proj, ver, start, success in rows
    ]


def iter_lake_builds(lake: Lake) -> Iterator[BuildRef]:
    """Every build and duplicate in the lake, read without re-hydrating blobs."""
    originals: dict[str, dict[str, Any]] = {}
    for key in lake.iter_keys():
        doc = lake.read_raw(key)
        build = doc.get("build") or {}
        if "duplicate_of" in doc:
            target = doc["duplicate_of"]
            if target not in originals:
                originals[target] = lake.read_raw(target)
            original = originals[target]
            success = (original.get("build") or {}).get("success")
            project, version = doc.get("project"), doc.get("version")
        else:
            success = build.get("success")
            project = (doc.get("project") or {}).get("slug")
            version = (doc.get("version") or {}).get("slug")
        if not project or not version or "start" not in build:
            continue
        yield BuildRef(str(build["id"]), key, project, version, _utc(build["start"]), success)
