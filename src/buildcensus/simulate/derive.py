"""Derive the compact table of config shapes the simulator samples from a corpus of real files.

This is a maintainer's tool, run once when the corpus changes; the simulator itself only reads
the table it writes (`data/simulate/config_shapes.json`), never the corpus:

    python -m buildcensus.simulate.derive /path/to/corpus [OUT.json]

Each real config file becomes one *shape*: the file's keys modernized to what today's platform
accepts (removed keys dropped or moved, e.g. `python.version` -> `build.tools.python`; values the
platform no longer accepts left as `null` for the simulator to fill), plus the requirements and
conda environment files it references when the corpus saved them. Summary counts (doctool,
Python, OS, conda, how requirements are pinned) are kept as `stats` and documented in
docs/simulate.md.
"""

from __future__ import annotations

import csv
import json
import re
import sys
from collections import Counter
from pathlib import Path, PurePosixPath
from typing import Any

import yaml
from packaging.requirements import InvalidRequirement, Requirement

from buildcensus.names import normalize_pip

OS_IMAGES = ("ubuntu-22.04", "ubuntu-24.04", "ubuntu-26.04", "ubuntu-lts-latest")
PYTHONS = (
    "2.7 3.6 3.7 3.8 3.9 3.10 3.11 3.12 3.13 3.14 3 latest miniconda3-4.7 miniconda3-3.12-24.1 "
    "miniconda3-3.12-24.9 miniconda-latest mambaforge-4.10 mambaforge-22.9 mambaforge-23.11 "
    "mambaforge-latest miniforge3-25.11 miniforge3-26.3 miniforge3-latest"
).split()
TOOLS = {
    "nodejs": "14 16 18 19 20 22 23 24 25 26 latest".split(),
    "ruby": ["3.3", "3.4", "4.0", "latest"],
    "rust": "1.55 1.61 1.64 1.70 1.75 1.78 1.82 1.86 1.91 1.96 latest".split(),
    "golang": [f"1.{m}" for m in range(17, 27)] + ["latest"],
}
JOBS = (
    "pre_checkout post_checkout pre_system_dependencies post_system_dependencies "
    "pre_create_environment create_environment post_create_environment pre_install install "
    "post_install pre_build build post_build"
).split()
APT_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.+-]*$")
MAX_REQUIREMENTS = 40


def _str_list(value: Any) -> list[str] | None:
    if isinstance(value, list) and all(isinstance(x, str) for x in value):
        return list(value)
    return None


def _install_items(items: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for it in items if isinstance(items, list) else []:
        if not isinstance(it, dict):
            continue
        if isinstance(it.get("requirements"), str) and it.get("method") != "uv":
            out.append({"requirements": it["requirements"]})
        elif isinstance(it.get("path"), str) and it.get("method", "pip") in ("pip", "setuptools"):
            item: dict[str, Any] = {"path": it["path"]}
            if "method" in it:
                item["method"] = it["method"]
            extras = _str_list(it.get("extra_requirements"))
            if extras and item.get("method", "pip") == "pip":
                item["extra_requirements"] = extras
            out.append(item)
    return out


def _jobs(value: Any) -> dict[str, Any]:
    jobs: dict[str, Any] = {}
    if not isinstance(value, dict):
        return jobs
    for key, v in value.items():
        if key not in JOBS or key == "build":
            continue
        cmds = _str_list(v)
        if cmds:
            jobs[key] = cmds
    return jobs


def modernize(doc: Any) -> tuple[dict[str, Any] | None, bool]:
    """A real config file as today's platform would need it; (shape, changed) or (None, False)."""
    if not isinstance(doc, dict):
        return None, False
    out: dict[str, Any] = {"version": 2}
    changed = doc.get("version") not in (2, "2")
    fmts = doc.get("formats")
    if fmts == "all" or (
        isinstance(fmts, list) and fmts and all(f in ("htmlzip", "pdf", "epub") for f in fmts)
    ):
        out["formats"] = fmts
    b = doc.get("build") if isinstance(doc.get("build"), dict) else {}
    build: dict[str, Any] = {}
    build["os"] = b.get("os") if b.get("os") in OS_IMAGES else None
    tools: dict[str, Any] = {}
    raw_tools = b.get("tools") if isinstance(b.get("tools"), dict) else {}
    py = raw_tools.get("python")
    legacy_py = (
        (doc.get("python") or {}).get("version") if isinstance(doc.get("python"), dict) else None
    )
    if py is None and legacy_py is not None:
        py, changed = str(legacy_py), True
    tools["python"] = py if py in PYTHONS else None
    for name, allowed in TOOLS.items():
        if raw_tools.get(name) in allowed:
            tools[name] = raw_tools[name]
    build["tools"] = tools
    apt = [p.strip() for p in _str_list(b.get("apt_packages")) or [] if APT_RE.match(p.strip())]
    if apt:
        build["apt_packages"] = apt
    commands = _str_list(b.get("commands"))
    jobs = _jobs(b.get("jobs"))
    if commands:
        build["commands"] = commands
    elif jobs:
        build["jobs"] = jobs
    out["build"] = build
    if isinstance(doc.get("conda"), dict) and isinstance(doc["conda"].get("environment"), str):
        out["conda"] = {"environment": doc["conda"]["environment"]}
    items = _install_items(
        (doc.get("python") or {}).get("install") if isinstance(doc.get("python"), dict) else None
    )
    if not items and isinstance(doc.get("requirements_file"), str):
        items, changed = [{"requirements": doc["requirements_file"]}], True
    if items:
        out["python"] = {"install": items}
    for tool in ("sphinx", "mkdocs"):
        section = doc.get(tool)
        if isinstance(section, dict):
            kept: dict[str, Any] = {}
            cfg = section.get("configuration")
            if isinstance(cfg, str) and cfg and (tool == "mkdocs" or cfg.endswith("conf.py")):
                kept["configuration"] = cfg
            if tool == "sphinx" and section.get("builder") in ("html", "dirhtml", "singlehtml"):
                kept["builder"] = section["builder"]
            if section.get("fail_on_warning") in (True, False):
                kept["fail_on_warning"] = section["fail_on_warning"]
            out[tool] = kept
            if "sphinx" in out and "mkdocs" in out:
                del out["mkdocs"]
    sub = doc.get("submodules")
    if isinstance(sub, dict):
        inc = sub.get("include")
        if inc == "all" or _str_list(inc):
            out["submodules"] = {"include": inc, "recursive": sub.get("recursive") is True}
    return out, changed


def parse_requirements(text: str) -> list[list[str]]:
    """(normalized name, specifier) for each plain requirement line."""
    out: list[list[str]] = []
    seen: set[str] = set()
    for raw in text.splitlines():
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith(("#", "-", "git+", "http", ".", "/")):
            continue
        try:
            req = Requirement(line)
        except InvalidRequirement:
            continue
        name = normalize_pip(req.name)
        if name in seen or req.url:
            continue
        seen.add(name)
        out.append([name, str(req.specifier)])
    return out[:MAX_REQUIREMENTS]


def parse_conda_env(text: str) -> dict[str, list[str]] | None:
    """Conda dependencies and the nested pip list of an environment file."""
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError:
        return None
    if not isinstance(doc, dict) or not isinstance(doc.get("dependencies"), list):
        return None
    conda, pip = [], []
    for dep in doc["dependencies"]:
        if isinstance(dep, str):
            conda.append(dep.strip())
        elif isinstance(dep, dict) and isinstance(dep.get("pip"), list):
            pip.extend(str(x).strip() for x in dep["pip"])
    return {
        "channels": [str(c) for c in doc.get("channels") or []][:4],
        "conda": conda[:MAX_REQUIREMENTS],
        "pip": pip[:MAX_REQUIREMENTS],
    }


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None


def _doctool(shape: dict[str, Any]) -> str:
    if shape["build"].get("commands"):
        return "other"
    return "mkdocs" if "mkdocs" in shape else "sphinx"


def derive(corpus: Path) -> dict[str, Any]:
    """Read INDEX.tsv and the files under `configs/`; return the shapes table."""
    rows = list(csv.DictReader((corpus / "INDEX.tsv").open(encoding="utf-8"), delimiter="\t"))
    shapes: list[dict[str, Any]] = []
    stats: dict[str, Counter[str]] = {
        k: Counter() for k in ("doctool", "python", "os", "config_version", "pin", "pin_sphinx")
    }
    unusable = 0
    for row in rows:
        base = corpus / "configs" / row["dir"]
        text = _read(base / row["config_path"])
        try:
            doc = yaml.safe_load(text) if text is not None else None
        except yaml.YAMLError:
            doc = None
        shape, changed = modernize(doc)
        if shape is None:
            unusable += 1
            continue
        stats["config_version"][str(doc.get("version", "missing"))] += 1
        stats["os"][
            str((doc.get("build") or {}).get("os") if isinstance(doc.get("build"), dict) else None)
        ] += 1
        stats["python"][str(shape["build"]["tools"]["python"])] += 1
        stats["doctool"][_doctool(shape)] += 1
        cfg_dir = PurePosixPath(row["config_path"]).parent
        reqs: list[list[str]] = []
        for item in shape.get("python", {}).get("install", []):
            if "requirements" in item:
                rel = PurePosixPath(str(cfg_dir / item["requirements"]).lstrip("/"))
                content = _read(base / str(rel)) or _read(base / item["requirements"])
                if content:
                    reqs.extend(parse_requirements(content))
        env = None
        if "conda" in shape:
            content = _read(base / str(cfg_dir / shape["conda"]["environment"])) or _read(
                base / shape["conda"]["environment"]
            )
            env = parse_conda_env(content) if content else None
        for name, spec in reqs:
            style = "exact" if spec.startswith("==") else "range" if spec else "unpinned"
            stats["pin"][style] += 1
            if name == "sphinx":
                stats["pin_sphinx"][style] += 1
        shapes.append(
            {
                "repo": row["repo"],
                "modernized": changed,
                "user": shape,
                "requirements": reqs or None,
                "conda_env": env,
            }
        )
    return {
        "_about": (
            "Config shapes derived by buildcensus.simulate.derive from the corpus of real "
            f"config files ({len(rows)} files, {unusable} unusable). Regenerate, don't edit."
        ),
        "shapes": shapes,
        "stats": {k: dict(sorted(v.items())) for k, v in stats.items()},
    }


def main(argv: list[str] | None = None) -> None:
    """Command-line entry: derive from CORPUS and write OUT (default: the packaged table)."""
    args = sys.argv[1:] if argv is None else argv
    if not args:
        raise SystemExit("usage: python -m buildcensus.simulate.derive CORPUS [OUT.json]")
    out = (
        Path(args[1])
        if len(args) > 1
        else Path(__file__).parents[1] / "data" / "simulate" / "config_shapes.json"
    )
    table = derive(Path(args[0]))
    out.write_text(
        json.dumps(table, separators=(",", ":"), sort_keys=False) + "\n", encoding="utf-8"
    )
    print(f"{len(table['shapes'])} shapes -> {out}")


if __name__ == "__main__":
    main()
