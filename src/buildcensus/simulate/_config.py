"""Config files for simulated projects: a real shape, perturbed, then resolved to the final
config by the platform's loader (`buildcensus.config.validate_v2`).
"""

from __future__ import annotations

import copy
import dataclasses
import json
import random
import re
from datetime import date
from functools import cache, lru_cache
from typing import Any

import orjson

from buildcensus.config import Platform, validate_v2
from buildcensus.simulate._data import CONDA_FULL, PLATFORM, PYTHON_FULL, PYTHON_SINCE

# From 2025-01-20 the platform requires sphinx.configuration / mkdocs.configuration.
BROWNOUT_DAY = date(2025, 1, 20)
# The simulator's records have always listed the final config's keys in this order (the
# resolver's own order differs); kept so that a seed's output stays byte-identical.
_FINAL_KEYS = (
    "version",
    "formats",
    "build",
    "conda",
    "python",
    "sphinx",
    "mkdocs",
    "doctype",
    "submodules",
    "search",
)


def weighted(rng: random.Random, table: dict[str, float]) -> str:
    """One key of `table`, drawn with the values as weights."""
    keys = list(table)
    return rng.choices(keys, weights=[table[k] for k in keys])[0]


def perturb(
    shape: dict[str, Any],
    rng: random.Random,
    pythons: dict[str, float],
    oses: dict[str, float],
    end: date,
) -> dict[str, Any]:
    """A project's own variant of a real config shape (fills the values the shape left open)."""
    user = copy.deepcopy(shape)
    build = user.setdefault("build", {})
    if build.get("os") is None or rng.random() < 0.15:
        build["os"] = weighted(rng, oses)
    tools = build.setdefault("tools", {})
    py = tools.get("python")
    if py is None or (py in PYTHON_FULL and rng.random() < 0.25):
        py = weighted(rng, pythons)
    if py in CONDA_FULL and "conda" not in user and not build.get("commands"):
        py = weighted(rng, pythons)
    tools["python"] = py
    if "conda" in user and py not in CONDA_FULL:
        tools["python"] = rng.choice(
            ["miniconda3-3.12-24.9", "mambaforge-23.11", "miniforge3-26.3"]
        )
    if not build.get("commands") and end >= BROWNOUT_DAY:
        if "mkdocs" in user:
            user["mkdocs"].setdefault("configuration", "mkdocs.yml")
        else:
            user.setdefault("sphinx", {}).setdefault("configuration", "docs/conf.py")
    if "sphinx" in user and rng.random() < 0.1:
        user["sphinx"]["fail_on_warning"] = not user["sphinx"].get("fail_on_warning", False)
    if rng.random() < 0.08:
        user["formats"] = rng.choice([["pdf"], ["pdf", "epub"], "all", ["htmlzip"]])
    return user


def finalize(user: dict[str, Any], day: date) -> dict[str, Any]:
    """The final config the platform resolves from a valid v2 user config on `day`."""
    final = _resolved(orjson.dumps(user), python_minor("3", day))
    return orjson.loads(final)  # a fresh copy: records must not share the cached values


@lru_cache(maxsize=4096)
def _resolved(user: bytes, newest_python: str) -> bytes:
    """The final config of a user config (JSON), resolved once per config and Python alias."""
    final = validate_v2(orjson.loads(user), _platform_on(newest_python), PLATFORM.checkout_path)
    return orjson.dumps({key: final[key] for key in _FINAL_KEYS})


@cache
def _platform_on(newest_python: str) -> Platform:
    """The platform profile with `3` / `latest` pointing at the newest Python of a day."""
    python = dict(PLATFORM.tools["python"])
    python["3"] = python["latest"] = PYTHON_FULL[newest_python]
    return dataclasses.replace(PLATFORM, tools={**PLATFORM.tools, "python": python})


def python_minor(version: str, day: date) -> str:
    """`3` / `latest` -> the newest Python available on `day`; other versions as written."""
    if version not in ("3", "latest"):
        return version
    newest = "3.11"
    for minor, since in PYTHON_SINCE.items():
        if since <= day:
            newest = minor
    return newest


def raw_yaml(user: dict[str, Any], rng: random.Random) -> str:
    """The file as a user might have written it (key order kept, a comment or two)."""
    header = rng.choice(
        [
            "# Read the Docs configuration file\n"
            "# See https://docs.readthedocs.io/en/stable/config-file/v2.html for details\n\n",
            "# .readthedocs.yaml\n",
            "",
        ]
    )
    return header + "".join(line + "\n" for line in _yaml_lines(user, 0))


_PLAIN = re.compile(r"[A-Za-z_./$][A-Za-z0-9_./$ +-]*")
_RESERVED = {"true", "false", "yes", "no", "on", "off", "null", "y", "n", "~"}


def _scalar(value: Any) -> str:
    if value is True or value is False:
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, int | float):
        return json.dumps(value)
    text = str(value)
    if _PLAIN.fullmatch(text) and text.lower() not in _RESERVED and not text.endswith(" "):
        return text
    return json.dumps(text)  # a JSON string is a valid double-quoted YAML scalar


def _yaml_lines(value: Any, indent: int) -> list[str]:
    """Block-style YAML for the JSON-like values of a config (a fast `yaml.safe_dump`)."""
    pad = " " * indent
    lines: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, dict | list) and item:
                lines.append(f"{pad}{key}:")
                lines.extend(_yaml_lines(item, indent + 2))
            else:
                empty = "{}" if isinstance(item, dict) else "[]"
                lines.append(
                    f"{pad}{key}: {_scalar(item) if not isinstance(item, dict | list) else empty}"
                )
    else:
        for item in value:
            if isinstance(item, dict) and item:
                sub = _yaml_lines(item, indent + 2)
                lines.append(f"{pad}- {sub[0].lstrip()}")
                lines.extend(sub[1:])
            elif isinstance(item, list) and item:
                lines.append(f"{pad}-")
                lines.extend(_yaml_lines(item, indent + 2))
            else:
                lines.append(f"{pad}- {_scalar(item)}")
    return lines
