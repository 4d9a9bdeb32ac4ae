"""The simulator's packaged data: release histories, dependencies, build images, config shapes.

Everything is read from `buildcensus/data/simulate/` once per process (cached).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date
from functools import cache
from importlib import resources
from typing import Any

from packaging.version import Version

from buildcensus.config import Platform, load_platform

# The tool versions and full versions come from the config resolver's platform profile
# (`buildcensus/data/platform.yaml`), so the simulator offers what the resolver accepts.
PLATFORM: Platform = load_platform()
_PYTHON = PLATFORM.tools["python"]
# build.tools.python minor version as written (no alias) -> full version.
PYTHON_FULL = {k: v for k, v in _PYTHON.items() if re.fullmatch(r"\d+\.\d+", k)}
# build.tools.python conda-style version (aliases included) -> full version.
CONDA_FULL = {k: v for k, v in _PYTHON.items() if PLATFORM.is_conda(k)}
# The other tools: version as written (aliases included) -> full version.
TOOL_FULL = {name: versions for name, versions in PLATFORM.tools.items() if name != "python"}
# When each Python version became selectable (its upstream release; approximate for the
# platform). Aliases (`3`, `latest`) resolve to the newest version available at build time.
PYTHON_SINCE = {
    "3.12": date(2023, 10, 2),
    "3.13": date(2024, 10, 7),
    "3.14": date(2025, 10, 7),
}
# When each build image became available (Ubuntu release + platform rollout, approximate).
IMAGE_SINCE = {
    "ubuntu-22.04": date(2022, 5, 1),
    "ubuntu-24.04": date(2024, 6, 1),
    "ubuntu-26.04": date(2026, 5, 1),
}
IMAGES = tuple(IMAGE_SINCE)
_DATA = resources.files("buildcensus").joinpath("data", "simulate")


@dataclass(frozen=True)
class Release:
    """One release of a package: version text, parsed version, date, minimum Python."""

    version: str
    key: Version
    day: date
    min_python: tuple[int, int]


def _lines(name: str) -> list[list[str]]:
    text = _DATA.joinpath(name).read_text("utf-8")
    return [ln.split("\t") for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]


def _py(text: str) -> tuple[int, int]:
    major, minor = text.split(".")[:2]
    return int(major), int(minor)


@cache
def releases() -> dict[str, tuple[Release, ...]]:
    """Release history per normalized package name, oldest first."""
    out: dict[str, list[Release]] = {}
    for cols in _lines("releases.tsv"):
        name, version, day = cols[0], cols[1], date.fromisoformat(cols[2])
        hist = out.setdefault(name, [])
        if len(cols) > 3 and cols[3].strip():
            min_py = _py(cols[3].strip())
        else:
            min_py = hist[-1].min_python if hist else (2, 7)
        hist.append(Release(version, Version(version), day, min_py))
    return {k: tuple(sorted(v, key=lambda r: r.day)) for k, v in out.items()}


@cache
def dependencies() -> dict[str, Any]:
    """`requires`, `constraints` and `breakages` (see dependencies.json)."""
    text = _DATA.joinpath("dependencies.json")
    return json.loads(text.read_text("utf-8"))


@cache
def apt_images() -> dict[str, tuple[dict[str, str], ...]]:
    """The `apt all` list of each build image, sorted by name."""
    out: dict[str, list[dict[str, str]]] = {img: [] for img in IMAGES}
    for cols in _lines("apt_images.tsv"):
        for img, version in zip(IMAGES, cols[1:4], strict=True):
            if version != "-":
                out[img].append({"name": cols[0], "normalized": cols[0], "version": version})
    return {k: tuple(sorted(v, key=lambda p: p["name"])) for k, v in out.items()}


@cache
def config_shapes() -> dict[str, Any]:
    """The table written by `buildcensus.simulate.derive`."""
    text = _DATA.joinpath("config_shapes.json")
    return json.loads(text.read_text("utf-8"))


def last_release_day() -> date:
    """The newest release date in the packaged histories."""
    return max(r.day for hist in releases().values() for r in hist)
