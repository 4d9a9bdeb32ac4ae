"""Builders of realistic build records for warehouse tests and the import benchmark."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

PIP_UNIVERSE = {
    "sphinx": ["1.8.5", "3.5.4", "5.3.0", "7.2.6", "7.4.7", "8.1.3"],
    "docutils": ["0.17.1", "0.18.1", "0.20.1", "0.21.2"],
    "sphinx-rtd-theme": ["0.4.3", "1.3.0", "2.0.0", "3.0.0rc1"],
    "furo": ["2023.9.10", "2024.8.6"],
    "myst-parser": ["0.18.1", "2.0.0", "4.0.0"],
    "mkdocs": ["1.4.3", "1.5.3", "1.6.1"],
    "mkdocs-material": ["9.4.14", "9.5.44"],
    "jinja2": ["3.0.3", "3.1.4"],
    "pygments": ["2.15.1", "2.18.0"],
    "numpy": ["1.26.4", "2.0.0b1", "2.1.3"],
    "requests": ["2.31.0", "2.32.3"],
    "babel": ["2.12.1", "2.16.0"],
    "alabaster": ["0.7.13", "0.7.16", "1.0.0"],
    "nbsphinx": ["0.9.3", "0.9.5"],
    "setuptools": ["68.0.0", "75.1.0"],
}
APT_IMAGES = {
    "ubuntu-22.04": [
        ("libc6", "2.35-0ubuntu3.8"),
        ("git", "1:2.34.1-1ubuntu1.11"),
        ("python3", "3.10.6-1~22.04.1"),
        ("graphviz", "2.42.2-6ubuntu0.1"),
    ],
    "ubuntu-24.04": [
        ("libc6", "2.39-0ubuntu8.3"),
        ("git", "1:2.43.0-1ubuntu7.1"),
        ("python3", "3.12.3-0ubuntu2"),
        ("graphviz", "2.42.2-9ubuntu0.1"),
    ],
}
CONDA = [
    ("python", "3.11.9", "conda-forge"),
    ("numpy", "1.26.4", "conda-forge"),
    ("openssl", "3.0.14", "conda-forge"),
    ("libgcc-ng", "14.1.0", "conda-forge"),
]


def make_record(rng: random.Random, build_id: int, start: datetime, project: int) -> dict[str, Any]:
    """One realistic record for `project` (its package choices are stable per project)."""
    prng = random.Random(project)
    image = prng.choice(sorted(APT_IMAGES))
    mkdocs = prng.random() < 0.25
    names = prng.sample(sorted(PIP_UNIVERSE), 5)
    if mkdocs:
        names[0] = "mkdocs"
    else:
        names[0] = "sphinx"
    pins = {n: prng.choice(PIP_UNIVERSE[n]) for n in names}
    if rng.random() < 0.1:  # some builds resolve a newer patch of one dependency
        n = rng.choice(names)
        pins[n] = rng.choice(PIP_UNIVERSE[n])
    pip_all = [{"name": n, "version": v} for n, v in sorted(pins.items())]
    user_cfg = {"version": 2, "build": {"os": image, "tools": {"python": "3.12"}}}
    if mkdocs:
        user_cfg["mkdocs"] = {"configuration": "mkdocs.yml"}
    else:
        user_cfg["sphinx"] = {
            "configuration": "docs/conf.py",
            "fail_on_warning": prng.random() < 0.3,
        }
    record: dict[str, Any] = {
        "schema_version": 1,
        "project": {"id": project, "slug": f"project-{project}"},
        "version": {"id": project * 10, "slug": prng.choice(["latest", "stable", "v1.0"])},
        "build": {
            "id": build_id,
            "start": start.isoformat().replace("+00:00", "Z"),
            "length": round(rng.uniform(20, 600), 1),
            "success": rng.random() > 0.1,
            "commit": f"{rng.getrandbits(40):010x}",
            "trigger": rng.choice(["webhook", "manual", "api", "pull_request"]),
            "steps": [{"name": "install", "seconds": round(rng.uniform(1, 60), 1)}],
        },
        "config": {
            "user": user_cfg,
            "final": {**user_cfg, "formats": [], "python": {"install": []}},
            "version": "2",
        },
        "python": "3.12.13" if image == "ubuntu-24.04" else "3.10.14",
        "os": image,
        "tools": {"python": "3.12.13", "nodejs": "20.11.0"}
        if prng.random() < 0.3
        else {"python": "3.12.13"},
        "packages": {
            "pip": {
                "user": [
                    {
                        "name": names[0],
                        "specifier": f">={pins[names[0]].split('.')[0]}",
                        "installed": pins[names[0]],
                    }
                ],
                "top_level": pip_all[:3],
                "all": pip_all,
            },
            "apt": {"all": [{"name": n, "version": v} for n, v in APT_IMAGES[image]]},
        },
        "doctool": (
            {"name": "mkdocs", "theme": "material", "plugins": ["search"]}
            if mkdocs
            else {
                "name": "sphinx",
                "extensions": ["sphinx.ext.autodoc"],
                "theme": prng.choice(["furo", "alabaster", "sphinx_rtd_theme"]),
            }
        ),
        "collector": {"version": "0.1.0", "seconds": round(rng.uniform(0.1, 2.0), 3)},
    }
    if prng.random() < 0.15:
        record["packages"]["conda"] = {
            "user": [{"name": "numpy", "specifier": ">=1.26"}],
            "all": [{"name": n, "version": v, "channel": c} for n, v, c in CONDA],
        }
    return record


def make_records(
    n: int,
    seed: int = 0,
    projects: int = 50,
    days: int = 60,
    first: datetime = datetime(2026, 10, 1, tzinfo=UTC),
    duplicates: float = 0.05,
) -> list[dict[str, Any]]:
    """`n` records over `days` days; a share are same-day re-runs (stored as duplicates)."""
    rng = random.Random(seed)
    out: list[dict[str, Any]] = []
    for i in range(n):
        if out and rng.random() < duplicates:
            prev = dict(out[-1])
            prev["build"] = {**prev["build"], "id": 1_000_000 + i, "length": 12.5}
            start = datetime.fromisoformat(prev["build"]["start"]) + timedelta(minutes=5)
            if start.date() == datetime.fromisoformat(out[-1]["build"]["start"]).date():
                prev["build"]["start"] = start.isoformat().replace("+00:00", "Z")
                out.append(prev)
                continue
        start = first + timedelta(seconds=rng.randrange(days * 86400))
        out.append(make_record(rng, 1 + i, start, 1 + rng.randrange(projects)))
    return out


def store_records(lake, records) -> None:
    """Store records in a lake through the normal validation path."""
    from buildcensus.record import parse_record

    for r in records:
        lake.store(parse_record(r))
