"""The simulator: deterministic, valid records, and distributions within the stated bounds."""

from __future__ import annotations

import io
import statistics
from collections import Counter, defaultdict
from datetime import date

import orjson
import pytest
import yaml
from packaging.version import Version

from buildcensus.config import resolve_text
from buildcensus.lake import open_lake
from buildcensus.record import parse_record
from buildcensus.simulate import SimulateOptions, simulate, write_lake, write_ndjson
from buildcensus.simulate._data import PYTHON_FULL, apt_images, releases

END = date(2026, 11, 30)


@pytest.fixture(scope="module")
def platform() -> list:
    """About 3,000 builds of 2,000 projects: enough for shares, small enough to be fast."""
    return list(simulate(SimulateOptions(projects=2000, days=3, seed=7, end=END)))


def _ndjson(opts: SimulateOptions) -> bytes:
    buf = io.BytesIO()
    write_ndjson(opts, buf)
    return buf.getvalue()


def test_same_seed_same_history_other_seed_other_history():
    opts = SimulateOptions(projects=60, days=4, seed=3, end=END)
    first = _ndjson(opts)
    assert first and first == _ndjson(opts)
    assert first != _ndjson(SimulateOptions(projects=60, days=4, seed=4, end=END))


def test_workers_split_projects_without_changing_the_history():
    opts = SimulateOptions(projects=80, days=3, seed=5, end=END)
    whole = [orjson.dumps(r.to_json_dict()) for r in simulate(opts)]
    parts = [orjson.dumps(r.to_json_dict()) for w in (0, 1) for r in simulate(opts, w, 2)]
    assert sorted(whole) == sorted(parts)
    ids = [orjson.loads(x)["build"]["id"] for x in whole]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)  # time order, unique ids


def test_every_record_validates_and_round_trips(platform):
    for rec in platform[::2]:
        doc = rec.to_json_dict()
        assert parse_record(doc).to_json_dict() == doc
    assert all(
        END.toordinal() - 2 <= r.build.start.date().toordinal() <= END.toordinal() for r in platform
    )


def test_volume_failures_triggers_doctools(platform):
    n = len(platform)
    assert 2400 <= n <= 3600  # 0.5 builds per project-day
    failed = sum(r.build.success is False for r in platform) / n
    assert 0.05 <= failed <= 0.10
    triggers = Counter(r.build.trigger for r in platform)
    assert 0.60 <= triggers["webhook"] / n <= 0.80
    assert triggers["webhook"] == max(triggers.values())
    projects = {r.project.slug: r for r in platform}
    tools = Counter(r.doctool.name for r in projects.values())
    assert tools["sphinx"] / len(projects) >= 0.75
    assert 0.03 <= tools["mkdocs"] / len(projects) <= 0.15
    assert tools["other"] > 0
    conda = sum(bool(r.packages.conda.all) for r in projects.values()) / len(projects)
    assert 0.02 <= conda <= 0.12
    no_config = sum(r.config.user is None for r in projects.values()) / len(projects)
    assert 0.003 <= no_config <= 0.06


def test_pinned_sphinx_share(platform):
    specs = {}
    for r in platform:
        if r.doctool.name == "sphinx":
            spec = [u.specifier for u in r.packages.pip.user if u.normalized == "sphinx"]
            specs[r.project.slug] = spec[0] if spec else ""
    pinned = sum(s.startswith("==") for s in specs.values()) / len(specs)
    assert 0.20 <= pinned <= 0.50


def test_heavy_tail_and_several_versions():
    recs = list(simulate(SimulateOptions(projects=400, days=30, seed=2, end=END)))
    per_project = Counter(r.project.slug for r in recs)
    counts = sorted(per_project.values(), reverse=True)
    top = sum(counts[: len(counts) // 100 or 1])
    assert top / len(recs) >= 0.08  # the busiest 1% of projects build a lot
    mean = statistics.mean(counts)
    assert sum(c < mean for c in counts) / len(counts) >= 0.65  # most build rarely
    versions = defaultdict(set)
    for r in recs:
        versions[r.project.slug].add(r.version.slug)
    busy = [p for p, c in per_project.items() if c >= 20]
    assert sum(len(versions[p]) > 1 for p in busy) / len(busy) >= 0.5
    assert any({"latest", "stable"} <= versions[p] for p in busy)
    lengths = sorted(r.build.length for r in recs)
    assert lengths[int(0.95 * len(lengths))] / lengths[len(lengths) // 2] >= 3
    for r in recs[:500]:
        assert r.build.length >= sum(s.seconds for s in r.build.steps)


def test_images_python_and_os_are_tied_to_the_config(platform):
    per_image = defaultdict(set)
    for r in platform:
        if r.config.user is None:
            continue
        final = r.config.final
        assert r.os == final["build"]["os"].replace("ubuntu-lts-latest", "ubuntu-26.04")
        tool = final["build"]["tools"]["python"]
        if not tool["version"].startswith(("mini", "mamba")):
            assert r.python == tool["full_version"]
            assert r.python in PYTHON_FULL.values()
        per_image[r.os].add(orjson.dumps([p.model_dump() for p in r.packages.apt.all]))
    for image, lists in per_image.items():
        assert len(lists) == 1  # identical within an image
        assert len(orjson.loads(next(iter(lists)))) == len(apt_images()[image]) >= 190


def test_final_config_matches_the_platform_loader(platform):
    seen = set()
    for r in platform:
        raw = r.config.user_raw
        if raw is None or raw in seen or len(seen) >= 120:
            continue
        seen.add(raw)
        assert yaml.safe_load(raw) == r.config.user
        assert resolve_text(raw, brownout=True).final == r.config.final
    assert len(seen) >= 100


def test_unpinned_projects_adopt_a_release_after_its_date_pinned_ones_stay():
    release = next(x for x in releases()["sphinx"] if x.version == "8.1.3").day
    opts = SimulateOptions(projects=300, days=42, seed=1, end=date(2024, 11, 10))
    state: dict[str, str] = {}
    weekly: list[float] = []
    pinned: dict[tuple[str, str], set[str]] = defaultdict(set)
    week_end = opts.start.toordinal() + 7
    for r in simulate(opts):
        while r.build.start.date().toordinal() >= week_end:
            weekly.append(sum(Version(v) >= Version("8.1") for v in state.values()) / len(state))
            week_end += 7
        spec = [u.specifier for u in r.packages.pip.user if u.normalized == "sphinx"]
        inst = [p.version for p in r.packages.pip.all if p.normalized == "sphinx"]
        if not inst or r.build.success is False:
            continue
        assert r.build.start.date() >= release or Version(inst[0]) < Version("8.1")
        if spec and spec[0].startswith("=="):  # a pin moves only when its maintainer bumps it
            pinned[(r.project.slug, spec[0])].add(inst[0])
        elif not spec or not spec[0]:
            state[r.project.slug] = inst[0]
    weekly.append(sum(Version(v) >= Version("8.1") for v in state.values()) / len(state))
    before = [
        w
        for i, w in enumerate(weekly)
        if opts.start.toordinal() + 7 * (i + 1) <= release.toordinal()
    ]
    after = weekly[len(before) + 1 :]
    assert before and all(w == 0 for w in before)
    assert after == sorted(after) and after[-1] >= 0.3 and after[-1] > after[0]
    assert pinned and all(len(v) == 1 for v in pinned.values())


def test_planted_regression_fails_builds_on_that_release():
    opts = SimulateOptions(
        projects=500, days=21, seed=4, end=date(2024, 11, 3), plant_regression=("sphinx", "8.1.3")
    )
    on, off = Counter(), Counter()
    for r in simulate(opts):
        inst = [p.version for p in r.packages.pip.all if p.normalized == "sphinx"]
        bucket = on if inst == ["8.1.3"] else off
        bucket[r.build.success] += 1
    assert sum(on.values()) >= 100
    assert on[False] / sum(on.values()) >= 0.45
    assert off[False] / sum(off.values()) <= 0.12


def test_lake_store_with_same_day_duplicates(tmp_path):
    opts = SimulateOptions(projects=150, days=4, seed=11, end=END)
    url = str(tmp_path / "lake")
    summary = write_lake(opts, url, workers=2, durable=False)
    assert summary.records == summary.stored + summary.duplicates
    assert summary.records == sum(1 for _ in simulate(opts))
    assert summary.duplicates >= 1
    lake = open_lake(url)
    keys = list(lake.iter_keys())
    assert len(keys) == summary.records
    dup = next(k for k in keys if "/duplicates/" in k)
    assert parse_record(lake.load(dup)).project.slug
