"""Which package versions a build installs on a given day: the newest release allowed by the
user's specifiers, the build's Python and the packages' own constraints (a tiny pip resolver
over the packaged release histories). Packages without a history (the long tail) get a
deterministic synthetic one.
"""

from __future__ import annotations

import zlib
from bisect import bisect_right
from collections.abc import Iterable
from datetime import date

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

from buildcensus.simulate._data import Release, dependencies, releases

Requirement = tuple[str, str]  # (normalized name, specifier text; "" when unpinned)
Resolution = tuple[tuple[str, str], ...]  # ((normalized name, version), ...) sorted by name

# How pip shows some names (`pip list` keeps the project's own spelling).
DISPLAY = {
    "sphinx": "Sphinx",
    "jinja2": "Jinja2",
    "markupsafe": "MarkupSafe",
    "pygments": "Pygments",
    "babel": "Babel",
    "pyyaml": "PyYAML",
    "markdown": "Markdown",
    "gitpython": "GitPython",
}
_TAIL_EPOCH = date(2016, 1, 1).toordinal()


def tail_version(name: str, day: date) -> str:
    """A long-tail package's newest version on `day` (synthetic, stable per name)."""
    h = zlib.crc32(name.encode())
    start = _TAIL_EPOCH + h % 2500
    period = 25 + (h >> 12) % 200
    n = max(0, (day.toordinal() - start) // period)
    return f"{n // 10}.{n % 10}.{(h >> 4) % 4}"


def _negate(spec: str) -> str:
    """A specifier outside `spec`'s range, above it when it has an upper bound."""
    parts = [p.strip() for p in spec.split(",")]
    upper = [p for p in parts if p.startswith("<")]
    if upper:
        return ">=" + upper[0].lstrip("<=")
    lower = [p for p in parts if p.startswith(">")]
    return "<" + lower[0].lstrip(">=") if lower else ""


class Resolver:
    """Resolve requirement lists to installed versions by date (cached; one per process)."""

    def __init__(self) -> None:
        self.hist = releases()
        deps = dependencies()
        self.requires: dict[str, list[str]] = deps["requires"]
        self.constraints: dict[str, list[tuple[str, SpecifierSet, str, str]]] = {}
        for a, spec_a, b, spec_b in deps["constraints"]:
            self.constraints.setdefault(a, []).append((a, SpecifierSet(spec_a), b, spec_b))
        self.breakages = [
            (
                {k: SpecifierSet(v) for k, v in br["when"].items()},
                float(br["fail"]),
                (br["fix"][0], br["fix"][1]),
            )
            for br in deps["breakages"]
        ]
        self._breakage_names = sorted({n for when, _, _ in self.breakages for n in when})
        self._broken: dict[tuple[str | None, ...], tuple[float, Requirement | None]] = {}
        self.days = sorted(r.day for hist in self.hist.values() for r in hist)
        # Each package's history ends on its own last known release (the data of some packages
        # goes further than others').
        self.last_day = {name: max(r.day for r in hist) for name, hist in self.hist.items()}
        self._cands: dict[tuple[str, str, tuple[int, int]], tuple[list[date], list[str]]] = {}
        self._memo: dict[tuple[tuple[Requirement, ...], tuple[int, int], int], Resolution] = {}
        self._contains: dict[tuple[str, str], bool] = {}

    def known(self, name: str) -> bool:
        """True when the package has a real release history here."""
        return name in self.hist

    def release_day(self, name: str, version: str) -> date | None:
        """When `version` of a known package was released (None when not in the history)."""
        return next((r.day for r in self.hist[name] if r.version == version), None)

    def before_history_ends(self, name: str, version: str, day: date) -> bool:
        """True when a version missing from the history may be installed on `day`: it is older
        than the newest known release, or `day` is after the package's history ends (a later
        release the data does not list)."""
        if any(r.version == version for r in self.hist[name]):
            return False
        try:
            v = Version(version)
        except InvalidVersion:
            return True
        return v <= max(r.key for r in self.hist[name]) or day > self.last_day[name]

    def epoch(self, day: date) -> int:
        """How many releases happened up to `day` (resolutions only change when this does)."""
        return bisect_right(self.days, day)

    def _candidates(
        self, name: str, spec: str, py: tuple[int, int]
    ) -> tuple[list[date], list[str]]:
        key = (name, spec, py)
        hit = self._cands.get(key)
        if hit is not None:
            return hit
        try:
            sset = SpecifierSet(spec)
        except InvalidSpecifier:
            sset = SpecifierSet()
        days: list[date] = []
        best: list[str] = []
        top: Release | None = None
        for r in self.hist[name]:
            if r.min_python > py or not sset.contains(r.key, prereleases=True):
                continue
            if top is None or r.key > top.key:
                top = r
            days.append(r.day)
            best.append(top.version)
        self._cands[key] = (days, best)
        return days, best

    def version_at(self, name: str, spec: str, py: tuple[int, int], day: date) -> str | None:
        """The newest allowed release of a known package on `day`, or None."""
        days, best = self._candidates(name, spec, py)
        i = bisect_right(days, day)
        return best[i - 1] if i else None

    def contains(self, spec: str, version: str) -> bool:
        """`version` satisfies `spec` (cached)."""
        key = (spec, version)
        hit = self._contains.get(key)
        if hit is None:
            try:
                hit = SpecifierSet(spec).contains(Version(version), prereleases=True)
            except (InvalidSpecifier, InvalidVersion):
                hit = False
            self._contains[key] = hit
        return hit

    def resolve(self, reqs: Iterable[Requirement], py: tuple[int, int], day: date) -> Resolution:
        """Every installed (name, version) for these top-level requirements on `day`."""
        known = tuple(sorted((n, s) for n, s in reqs if n in self.hist))
        key = (known, py, self.epoch(day))
        hit = self._memo.get(key)
        if hit is None:
            hit = self._resolve_known(dict(known), py, day)
            if len(self._memo) > 200_000:
                self._memo.clear()
            self._memo[key] = hit
        return hit

    def _resolve_known(self, user: dict[str, str], py: tuple[int, int], day: date) -> Resolution:
        extra: dict[str, list[str]] = {}
        chosen: dict[str, str] = {}
        for _ in range(6):
            chosen = {}
            queue = list(user)
            while queue:
                name = queue.pop(0)
                if name in chosen or name not in self.hist:
                    continue
                spec = ",".join(s for s in (user.get(name, ""), *extra.get(name, ())) if s)
                version = self.version_at(name, spec, py, day)
                if version is None and name in user:  # a conflict pip would report; keep user's
                    version = self.version_at(name, user[name], py, day)
                if version is None:
                    continue
                chosen[name] = version
                queue.extend(self.requires.get(name, ()))
            changed = False
            for a, version_a in chosen.items():
                for _a, spec_a, b, spec_b in self.constraints.get(a, ()):
                    if b not in chosen or not spec_a.contains(version_a, prereleases=True):
                        continue
                    if self.contains(spec_b, chosen[b]):
                        continue
                    if user.get(b, "").startswith("==") and not user.get(a, "").startswith("=="):
                        neg = _negate(str(spec_a))
                        if neg and neg not in extra.get(a, []):
                            extra.setdefault(a, []).append(neg)
                            changed = True
                    elif spec_b not in extra.get(b, []):
                        extra.setdefault(b, []).append(spec_b)
                        changed = True
            if not changed:
                break
        return tuple(sorted(chosen.items()))

    def broken(self, resolution: dict[str, str]) -> tuple[float, Requirement | None]:
        """Failure probability from known historical breakages, and the user's eventual fix."""
        key = tuple(resolution.get(n) for n in self._breakage_names)
        hit = self._broken.get(key)
        if hit is None:
            hit = self._broken[key] = self._check_broken(resolution)
        return hit

    def _check_broken(self, resolution: dict[str, str]) -> tuple[float, Requirement | None]:
        for when, fail, fix in self.breakages:
            if all(
                n in resolution and s.contains(resolution[n], prereleases=True)
                for n, s in when.items()
            ):
                return fail, fix
        return 0.0, None
