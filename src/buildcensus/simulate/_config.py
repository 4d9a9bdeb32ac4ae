"""Config files for simulated projects: a real shape, perturbed, then resolved to the final
config the way the platform's loader does (the subset of CONFIG_RULES.md the shapes use).
"""

from __future__ import annotations

import copy
import json
import random
import re
from datetime import date
from typing import Any

from buildcensus.simulate._data import CONDA_FULL, PYTHON_FULL, PYTHON_SINCE, TOOL_FULL

JOB_KEYS = (
    "pre_checkout",
    "post_checkout",
    "pre_system_dependencies",
    "post_system_dependencies",
    "pre_create_environment",
    "create_environment",
    "post_create_environment",
    "pre_install",
    "install",
    "post_install",
    "pre_build",
    "build",
    "post_build",
)
SEARCH_IGNORE = ["search.html", "search/index.html", "404.html", "404/index.html"]
BUILDERS = {"html": "sphinx", "dirhtml": "sphinx_htmldir", "singlehtml": "sphinx_singlehtml"}
# From 2025-01-20 the platform requires sphinx.configuration / mkdocs.configuration.
BROWNOUT_DAY = date(2025, 1, 20)


def weighted(rng: random.Random, table: dict[str, float]) -> str:
    """One key of `table`, drawn with the values as weights."""
    keys = list(table)
    return rng.choices(keys, weights=[table[k] for k in keys])[0]


def _norm_path(path: str) -> str:
    parts: list[str] = []
    for p in path.strip().split("/"):
        if p in ("", "."):
            continue
        if p == ".." and parts and parts[-1] != "..":
            parts.pop()
        else:
            parts.append(p)
    return "/".join(parts) or "."


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


def _install_item(item: dict[str, Any]) -> dict[str, Any]:
    if "requirements" in item:
        return {"requirements": _norm_path(item["requirements"])}
    return {
        "path": _norm_path(item["path"]),
        "method": item.get("method", "pip"),
        "extra_requirements": list(item.get("extra_requirements", [])),
    }


def finalize(user: dict[str, Any], day: date) -> dict[str, Any]:
    """The final config the platform resolves from a valid v2 user config on `day`."""
    b = user.get("build", {})
    fmts = user.get("formats", [])
    jobs: dict[str, Any] = {k: [] for k in JOB_KEYS}
    jobs["create_environment"] = None
    jobs["install"] = None
    jobs["build"] = {"html": None, "pdf": None, "epub": None, "htmlzip": None}
    for k, v in b.get("jobs", {}).items():
        jobs[k] = list(v)
    tools = {}
    for name, version in b.get("tools", {}).items():
        if name == "python":
            full = CONDA_FULL.get(version) or PYTHON_FULL[python_minor(version, day)]
        else:
            full = TOOL_FULL[name][version]
        tools[name] = {"version": version, "full_version": full}
    commands = list(b.get("commands", []))
    mkdocs = None
    sphinx = None
    if "mkdocs" in user:
        m = user["mkdocs"]
        mkdocs = {
            "configuration": _norm_path(m["configuration"]) if m.get("configuration") else None,
            "fail_on_warning": bool(m.get("fail_on_warning", False)),
        }
    else:
        s = user.get("sphinx", {})
        sphinx = {
            "configuration": _norm_path(s["configuration"]) if s.get("configuration") else None,
            "builder": BUILDERS[s.get("builder", "html")],
            "fail_on_warning": bool(s.get("fail_on_warning", False)),
        }
    if commands:
        doctype = "generic"
    elif mkdocs is not None:
        doctype = "mkdocs"
    else:
        doctype = sphinx["builder"] if sphinx else "sphinx"
    sub = user.get("submodules", {})
    include = sub.get("include", [])
    return {
        "version": "2",
        "formats": ["htmlzip", "pdf", "epub"] if fmts == "all" else list(fmts),
        "build": {
            "os": b["os"],
            "tools": tools,
            "jobs": jobs,
            "apt_packages": list(b.get("apt_packages", [])),
            "commands": commands,
        },
        "conda": {"environment": _norm_path(user["conda"]["environment"])}
        if "conda" in user
        else None,
        "python": {
            "install": [_install_item(i) for i in user.get("python", {}).get("install", [])]
        },
        "sphinx": sphinx,
        "mkdocs": mkdocs,
        "doctype": doctype,
        "submodules": {
            "include": include,
            "exclude": [] if include else "all",
            "recursive": bool(sub.get("recursive", False)),
        },
        "search": {"ranking": {}, "ignore": list(SEARCH_IGNORE)},
    }


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
