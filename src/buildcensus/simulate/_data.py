"""The simulator's packaged data: release histories, dependencies, build images, config shapes.

Everything is read from `buildcensus/data/simulate/` once per process (cached).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from functools import cache
from importlib import resources
from typing import Any

from packaging.version import Version

# The platform profile (CONFIG_RULES.md appendix, snapshot 2026-08): build.tools.python as
# written -> full version.
PYTHON_FULL = {
    "2.7": "2.7.18",
    "3.6": "3.6.15",
    "3.7": "3.7.17",
    "3.8": "3.8.20",
    "3.9": "3.9.25",
    "3.10": "3.10.20",
    "3.11": "3.11.15",
    "3.12": "3.12.13",
    "3.13": "3.13.14",
    "3.14": "3.14.6",
}
PYTHON_ALIASES = {"3": "3.14", "latest": "3.14"}
CONDA_FULL = {
    "miniconda3-4.7": "miniconda3-4.7.12",
    "miniconda3-3.12-24.1": "miniconda3-3.12-24.1.2-0",
    "miniconda3-3.12-24.9": "miniconda3-3.12-24.9.2-0",
    "miniconda-latest": "miniconda3-3.12-24.9.2-0",
    "mambaforge-4.10": "mambaforge-4.10.3-10",
    "mambaforge-22.9": "mambaforge-22.9.0-3",
    "mambaforge-23.11": "mambaforge-23.11.0-0",
    "mambaforge-latest": "mambaforge-23.11.0-0",
    "miniforge3-25.11": "miniforge3-25.11.0-1",
    "miniforge3-26.3": "miniforge3-26.3.2-3",
    "miniforge3-latest": "miniforge3-26.3.2-3",
}
TOOL_FULL = {
    "nodejs": {
        "14": "14.21.3",
        "16": "16.20.2",
        "18": "18.20.8",
        "19": "19.9.0",
        "20": "20.20.2",
        "22": "22.23.1",
        "23": "23.11.1",
        "24": "24.18.0",
        "25": "25.9.0",
        "26": "26.4.0",
        "latest": "26.4.0",
    },
    "ruby": {"3.3": "3.3.11", "3.4": "3.4.9", "4.0": "4.0.3", "latest": "4.0.3"},
    "rust": {
        "1.55": "1.55.0",
        "1.61": "1.61.0",
        "1.64": "1.64.0",
        "1.70": "1.70.0",
        "1.75": "1.75.0",
        "1.78": "1.78.0",
        "1.82": "1.82.0",
        "1.86": "1.86.0",
        "1.91": "1.91.1",
        "1.96": "1.96.0",
        "latest": "1.96.0",
    },
    "golang": {
        "1.17": "1.17.13",
        "1.18": "1.18.10",
        "1.19": "1.19.13",
        "1.20": "1.20.14",
        "1.21": "1.21.13",
        "1.22": "1.22.12",
        "1.23": "1.23.12",
        "1.24": "1.24.13",
        "1.25": "1.25.11",
        "1.26": "1.26.4",
        "latest": "1.26.4",
    },
}
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
