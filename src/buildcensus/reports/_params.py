"""Report parameters and the time window: pure parsing, with the clock passed in."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from buildcensus.errors import QueryError

#: Window used when neither --since nor --last is given: the 90 days before `now` (or --until).
DEFAULT_WINDOW = timedelta(days=90)

ECOSYSTEMS = ("pip", "conda", "apt")
SCOPES = ("all", "top_level", "user")
PERIODS = ("week", "month")
EXTENSION_KINDS = ("extension", "plugin", "markdown_extension")

# Which `builds` column holds the package-set id of (ecosystem, scope).
SET_COLUMNS: dict[tuple[str, str], str] = {
    ("pip", "user"): "pip_user_set",
    ("pip", "top_level"): "pip_top_level_set",
    ("pip", "all"): "pip_all_set",
    ("conda", "user"): "conda_user_set",
    ("conda", "all"): "conda_all_set",
    ("apt", "user"): "apt_user_set",
    ("apt", "all"): "apt_all_set",
}

_DURATION_RE = re.compile(r"^\s*(\d{1,6})\s*([hdw])\s*$")
_DURATION_UNITS = {"h": "hours", "d": "days", "w": "weeks"}


@dataclass(frozen=True)
class InList:
    """Values a specifier matched, resolved against the warehouse before the SQL is built."""

    values: tuple[str, ...]


@dataclass(frozen=True)
class ReportParams:
    """Everything a report query depends on. Times are naive UTC; the window is [since, until)."""

    since: datetime
    until: datetime
    include_failed: bool = False
    ecosystem: str | None = None
    package: str | None = None
    scope: str | None = None
    limit: int | None = None
    by: str | None = None
    kind: str | None = None
    where: tuple[str, ...] = ()
    #: Resolve ties at a project's latest start by re-reading its builds (exact SQL). The
    #: runner first runs without it (`state_counts`: a fifth of the time of a report) and
    #: re-runs with it only when the answer reports a tie, so answers are always exact.
    tie_rescan: bool = True
    #: Filled by the runner for reports whose filters need the data (impact specifiers):
    #: one entry per `where` expression, None when the expression needs no value list.
    resolved: tuple[InList | None, ...] = field(default=(), compare=False)

    def with_resolved(self, resolved: tuple[InList | None, ...]) -> ReportParams:
        """A copy carrying resolved value lists."""
        return replace(self, resolved=resolved)


def parse_time(value: str, name: str = "time") -> datetime:
    """A UTC date (`2026-11-01`: midnight) or ISO time (any offset) -> naive UTC datetime."""
    text = value.strip()
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), datetime.min.time())
        parsed = datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError:
        raise QueryError(
            f"{name}: not a date or ISO time: {value!r} (e.g. 2026-11-01 or 2026-11-01T10:00:00Z)"
        ) from None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    return parsed


def parse_duration(value: str) -> timedelta:
    """`90d`, `12w` or `36h` -> a timedelta."""
    m = _DURATION_RE.match(value)
    if not m or int(m.group(1)) == 0:
        raise QueryError(
            f"--last: expected a positive duration like 90d, 12w or 36h, got {value!r}"
        )
    return timedelta(**{_DURATION_UNITS[m.group(2)]: int(m.group(1))})


def resolve_window(
    since: str | None = None,
    until: str | None = None,
    last: str | None = None,
    now: datetime | str | None = None,
) -> tuple[datetime, datetime]:
    """The window [since, until) from the common options.

    `until` defaults to `now`; `since` defaults to `until - last`, or `until - 90 days`.
    `--last` and `--since` together are ambiguous and rejected.
    """
    if isinstance(now, str):
        now_dt = parse_time(now, "--now")
    elif now is None:
        now_dt = datetime.now(UTC).replace(tzinfo=None)
    else:
        now_dt = now.astimezone(UTC).replace(tzinfo=None) if now.tzinfo else now
    if last is not None and since is not None:
        raise QueryError("--last and --since cannot be used together")
    end = parse_time(until, "--until") if until is not None else now_dt
    if since is not None:
        start = parse_time(since, "--since")
    else:
        start = end - (parse_duration(last) if last is not None else DEFAULT_WINDOW)
    if start >= end:
        raise QueryError(f"empty window: since {start.isoformat()} is not before {end.isoformat()}")
    return start, end


def make_params(
    *,
    since: str | None = None,
    until: str | None = None,
    last: str | None = None,
    now: datetime | str | None = None,
    include_failed: bool = False,
    **options: Any,
) -> ReportParams:
    """Build validated `ReportParams` from user-facing options (CLI flags or query string)."""
    start, end = resolve_window(since, until, last, now)
    clean = {k: v for k, v in options.items() if v is not None}
    if "where" in clean:
        clean["where"] = tuple(clean["where"])
    limit = clean.get("limit")
    if limit is not None and limit < 0:
        raise QueryError("--limit must be >= 0 (0 means no limit)")
    for key, allowed in (("ecosystem", ECOSYSTEMS), ("scope", SCOPES)):
        if key in clean and clean[key] not in allowed:
            raise QueryError(f"--{key}: expected one of {', '.join(allowed)}, got {clean[key]!r}")
    if "package" in clean and "ecosystem" in clean:
        from buildcensus.names import normalize

        clean["package"] = normalize(clean["ecosystem"], clean["package"])
    return ReportParams(since=start, until=end, include_failed=include_failed, **clean)


def set_column(ecosystem: str, scope: str) -> str:
    """The `builds` column holding the package-set id of (ecosystem, scope)."""
    try:
        return SET_COLUMNS[(ecosystem, scope)]
    except KeyError:
        raise QueryError(f"scope {scope!r} is not recorded for {ecosystem}") from None
