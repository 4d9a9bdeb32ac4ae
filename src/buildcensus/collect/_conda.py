"""conda: installed packages (conda-meta or `conda list --json`) and the environment file."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import orjson
import yaml

from buildcensus.collect._requirements import MAX_FILE, parse_requirements_text
from buildcensus.collect._run import ProbeFailure, Runner, json_list, read_local

MATCH_RE = re.compile(r"^\s*(?:(?P<channel>[^\s:]+)::)?(?P<name>[A-Za-z0-9_][A-Za-z0-9_.\-]*)")


SUBDIR_RE = re.compile(r"^(noarch|(linux|osx|win|emscripten|wasi|zos|freebsd)-[a-z0-9_]+)$")


def channel_name(record: dict[str, Any]) -> str | None:
    """A short channel name (`conda-forge`, `pkgs/main`) from a conda record."""
    for key in ("schannel", "channel"):
        value = record.get(key)
        if isinstance(value, str) and value:
            if "://" not in value:
                return value.rstrip("/")
            parts = [p for p in urlsplit(value).path.split("/") if p]
            if parts and SUBDIR_RE.match(parts[-1]):
                parts = parts[:-1]
            return "/".join(parts) or value
    return None


def _package(record: dict[str, Any]) -> dict[str, Any] | None:
    name = record.get("name")
    if not isinstance(name, str) or not name:
        return None
    version = record.get("version")
    build = record.get("build_string", record.get("build"))
    return {
        "name": name,
        "version": str(version) if version is not None else None,
        "channel": channel_name(record),
        "build": str(build) if build is not None else None,
    }


def read_conda_meta(prefix: Path, max_bytes: int) -> list[dict[str, Any]]:
    """Installed conda packages from `PREFIX/conda-meta/*.json` (no conda process needed)."""
    meta = prefix / "conda-meta"
    if not meta.is_dir():
        raise ProbeFailure(
            f"{meta}: not a conda environment (no conda-meta folder)", kind="missing"
        )
    out: list[dict[str, Any]] = []
    total = 0
    problems = 0
    for path in sorted(meta.glob("*.json")):
        try:
            data = read_local(path, max_bytes)
            total += len(data)
            if total > max_bytes:
                raise ProbeFailure(
                    f"{meta}: more than {max_bytes} bytes of records", kind="too-large"
                )
            record = orjson.loads(data)
        except (orjson.JSONDecodeError, ProbeFailure) as exc:
            if isinstance(exc, ProbeFailure) and exc.kind == "too-large":
                raise
            problems += 1
            continue
        if isinstance(record, dict) and (pkg := _package(record)):
            out.append(pkg)
    if problems and not out:
        raise ProbeFailure(f"{meta}: no readable package records", kind="garbage")
    out.sort(key=lambda p: p["name"].lower())
    return out


def conda_list(runner: Runner, prefix: str | None) -> list[dict[str, Any]]:
    """Installed conda packages from `conda list --json` (channel `pypi` entries skipped)."""
    argv = ["conda", "list", "--json"] + (["--prefix", prefix] if prefix else [])
    res = runner.run(argv)
    data = json_list(res.stdout, "conda list")
    out = []
    for record in data:
        if isinstance(record, dict) and record.get("channel") != "pypi":
            if pkg := _package(record):
                out.append(pkg)
    out.sort(key=lambda p: p["name"].lower())
    return out


@dataclass
class CondaEnvironment:
    """The dependencies an environment file declares (conda ones, then its `pip:` list)."""

    requirements: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def parse_match_spec(spec: str) -> dict[str, Any] | None:
    """`conda-forge::numpy>=1.2`, `python=3.11`, `numpy 1.11 py36_0` -> name/specifier/channel."""
    m = MATCH_RE.match(spec)
    if not m:
        return None
    rest = " ".join(spec[m.end() :].split())
    return {"name": m.group("name"), "specifier": rest, "channel": m.group("channel"), "pip": False}


def parse_environment(text: str, path: Path, root: Path) -> CondaEnvironment:
    """Parse an environment.yml; `pip:` entries are read with the requirements parser."""
    env = CondaEnvironment()
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        env.problems.append(f"{path.name}: invalid YAML: {str(exc).splitlines()[0]}")
        return env
    if not isinstance(data, dict):
        env.problems.append(f"{path.name}: not a mapping")
        return env
    deps = data.get("dependencies") or []
    if not isinstance(deps, list):
        env.problems.append(f"{path.name}: dependencies is not a list")
        return env
    for dep in deps:
        if isinstance(dep, str | int | float):
            req = parse_match_spec(str(dep))
            if req:
                env.requirements.append(req)
            else:
                env.problems.append(f"{path.name}: cannot read dependency {dep!r}")
        elif isinstance(dep, dict) and isinstance(dep.get("pip"), list):
            lines = "\n".join(str(x) for x in dep["pip"] if x is not None)
            # pip runs from the environment file's folder for `-r` includes.
            try:
                label = str(path.relative_to(root))
            except ValueError:
                label = path.name
            parsed = parse_requirements_text(lines, root, name=label)
            for r in parsed.requirements:
                env.requirements.append(
                    {"name": r["name"], "specifier": r["specifier"], "channel": None, "pip": True}
                )
            env.problems += parsed.problems
        else:
            env.problems.append(f"{path.name}: cannot read dependency {str(dep)[:80]!r}")
    return env


def read_environment(path: Path, root: Path) -> CondaEnvironment:
    """Read and parse an environment file from the checkout."""
    try:
        text = read_local(path, MAX_FILE).decode("utf-8-sig", "replace")
    except ProbeFailure as exc:
        return CondaEnvironment(problems=[f"environment file {exc}"])
    return parse_environment(text, path, root)
