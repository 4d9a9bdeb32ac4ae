"""pip packages: one run of the target interpreter reads all installed distribution metadata.

The probe script (below) runs inside the build's interpreter and only *reads*: names, versions,
`Requires-Dist` lines and the marker environment. The collector then computes the same two sets
`pip list --format json` and `pip list --not-required --format json` would print, so pip is
not started twice. Interpreters without `importlib.metadata` (or `pkg_resources`) fall back to
running `pip list` itself.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any
from urllib.parse import unquote, urlsplit

from packaging.markers import InvalidMarker, Marker
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from buildcensus.collect._run import ProbeFailure, Runner, json_list

# pip list never shows these (pip's `stdlib_pkgs`).
PIP_SKIP = frozenset({"python", "wsgiref", "argparse"})

# Runs in the *target* interpreter, which may be old: Python 2.7-compatible syntax, stdlib
# only, no f-strings. It never imports a user package.
PROBE_SCRIPT = r"""
import sys, os, json, platform
def canon(n):
    import re
    return re.sub(r"[-_.]+", "-", n).lower()
def fullver(info):
    v = "%d.%d.%d" % (info[0], info[1], info[2])
    if info[3] != "final":
        v += info[3][0] + str(info[4])
    return v
def header(text):
    name = version = None
    reqs = []
    last = None
    for line in text.splitlines():
        if not line:
            break
        if line[:1] in (" ", "\t"):
            if last == "r" and reqs:
                reqs[-1] += " " + line.strip()
            continue
        key, _, value = line.partition(":")
        key = key.strip().lower()
        value = value.strip()
        last = None
        if key == "name" and name is None:
            name = value
        elif key == "version" and version is None:
            version = value
        elif key == "requires-dist":
            reqs.append(value)
            last = "r"
    return name, version, reqs
impl = getattr(sys, "implementation", None)
env = {
    "implementation_name": impl.name if impl else "",
    "implementation_version": fullver(impl.version) if impl else "0",
    "os_name": os.name,
    "platform_machine": platform.machine(),
    "platform_release": platform.release(),
    "platform_system": platform.system(),
    "platform_version": platform.version(),
    "python_full_version": platform.python_version(),
    "platform_python_implementation": platform.python_implementation(),
    "python_version": ".".join(platform.python_version_tuple()[:2]),
    "sys_platform": sys.platform,
}
out = {"python": platform.python_version(), "implementation": platform.python_implementation(),
       "executable": sys.executable, "prefix": sys.prefix, "env": env, "dists": [],
       "backend": None, "problems": []}
seen = set()
try:
    try:
        import importlib.metadata as md
    except ImportError:
        import importlib_metadata as md
    out["backend"] = "importlib.metadata"
    for d in md.distributions():
        try:
            text = d.read_text("METADATA") or d.read_text("PKG-INFO") or ""
            name, version, reqs = header(text)
            if not name:
                continue
            key = canon(name)
            if key in seen:
                continue
            seen.add(key)
            if not reqs and d.read_text("requires.txt"):
                reqs = list(d.requires or [])
            url = None
            direct = d.read_text("direct_url.json")
            if direct:
                try:
                    url = json.loads(direct).get("url")
                except Exception:
                    url = None
            out["dists"].append([name, version, reqs, url])
        except Exception as e:
            out["problems"].append("%s: %s" % (type(e).__name__, str(e)[:200]))
except ImportError:
    try:
        import pkg_resources
    except Exception:
        out["backend"] = None
    else:
        out["backend"] = "pkg_resources"
        for d in pkg_resources.working_set:
            try:
                key = canon(d.project_name)
                if key in seen:
                    continue
                seen.add(key)
                out["dists"].append(
                    [d.project_name, d.version, [str(r) for r in d.requires()], None])
            except Exception as e:
                out["problems"].append("%s: %s" % (type(e).__name__, str(e)[:200]))
sys.stdout.write("BUILDCENSUS-PROBE " + json.dumps(out) + "\n")
"""

MARKER_TAG = b"BUILDCENSUS-PROBE "


@dataclass
class PipResult:
    """What the pip probe found: both package sets, the interpreter version, any problems."""

    all: list[dict[str, Any]] = field(default_factory=list)
    top_level: list[dict[str, Any]] = field(default_factory=list)
    python: str | None = None
    problems: list[str] = field(default_factory=list)
    method: str = "metadata"
    locations: dict[str, str] = field(default_factory=dict)


def pip_version_string(version: str | None) -> str | None:
    """The version as pip prints it (PEP 440 normalized when valid, else as written)."""
    if version is None:
        return None
    try:
        return str(Version(version))
    except InvalidVersion:
        return version.strip()


def parse_probe_output(stdout: bytes) -> dict[str, Any]:
    """Find and decode the probe's JSON line (the interpreter may print noise around it)."""
    for line in reversed(stdout.splitlines()):
        if line.startswith(MARKER_TAG):
            try:
                data = json.loads(line[len(MARKER_TAG) :])
            except ValueError as exc:
                raise ProbeFailure(f"garbled probe output: {exc}", kind="garbage") from None
            if not isinstance(data, dict) or not isinstance(data.get("dists"), list):
                raise ProbeFailure("garbled probe output: not the expected object", kind="garbage")
            return data
    snippet = stdout[:120].decode("utf-8", "replace").strip()
    raise ProbeFailure(
        f"unexpected probe output{': ' + repr(snippet) if snippet else ' (empty)'}",
        kind="garbage",
    )


def compute_sets(
    dists: list[Any], env: dict[str, str]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[str]]:
    """`pip list` and `pip list --not-required` from (name, version, requires) triples."""
    problems: list[str] = []
    marker_env = {k: str(v) for k, v in env.items()}
    marker_env["extra"] = ""
    marker_cache: dict[str, bool] = {}
    packages: list[tuple[str, dict[str, Any]]] = []
    required: set[str] = set()
    seen: set[str] = set()
    for item in dists:
        if not (isinstance(item, list) and len(item) in (3, 4) and isinstance(item[0], str)):
            problems.append(f"skipped a malformed distribution entry: {str(item)[:100]}")
            continue
        name, version, reqs = item[:3]
        if not name.strip() or not isinstance(version, str | None):
            problems.append(f"skipped a malformed distribution entry: {str(item)[:100]}")
            continue
        key = canonicalize_name(name)
        if key in PIP_SKIP or key in seen:
            continue
        seen.add(key)
        packages.append((key, {"name": name, "version": pip_version_string(version)}))
        for req in reqs if isinstance(reqs, list) else []:
            dep = _dependency_name(str(req), marker_env, marker_cache)
            if dep:
                required.add(dep)
    packages.sort(key=lambda kv: kv[0])
    all_ = [p for _, p in packages]
    top = [p for k, p in packages if k not in required]
    return all_, top, problems


def _dependency_name(req: str, env: dict[str, str], cache: dict[str, bool]) -> str | None:
    """The canonical name of a dependency that applies without extras, as pip decides it."""
    try:
        parsed = Requirement(req)
    except InvalidRequirement:
        return None
    if parsed.marker is not None:
        text = str(parsed.marker)
        if text not in cache:
            try:
                cache[text] = bool(Marker(text).evaluate(env))
            except (InvalidMarker, Exception):  # unknown marker variables: pip would skip too
                cache[text] = False
        if not cache[text]:
            return None
    return canonicalize_name(parsed.name)


def probe_metadata(runner: Runner, python: str) -> PipResult:
    """Run the probe script once in `python` and derive both package sets."""
    res = runner.run([python, "-c", PROBE_SCRIPT])
    try:
        data = parse_probe_output(res.stdout)
    except ProbeFailure as exc:
        raise ProbeFailure(f"{python} -c <script>: {exc}", kind=exc.kind) from None
    if not data.get("backend"):
        raise ProbeFailure(
            "the interpreter has neither importlib.metadata nor pkg_resources", kind="old"
        )
    env = data.get("env") if isinstance(data.get("env"), dict) else {}
    all_, top, problems = compute_sets(data["dists"], env)
    problems += [f"metadata: {p}" for p in data.get("problems") or [] if isinstance(p, str)]
    py = data.get("python")
    locations = {}
    for item in data["dists"]:
        if isinstance(item, list) and len(item) == 4 and isinstance(item[3], str):
            if item[3].startswith("file://"):
                locations[unquote(urlsplit(item[3]).path).rstrip("/")] = str(item[0])
    return PipResult(
        locations=locations,
        all=all_,
        top_level=top,
        python=py if isinstance(py, str) else None,
        problems=problems[:20],
        method=f"metadata ({data['backend']})",
    )


def pip_command(runner: Runner, python: str | None) -> list[str]:
    """How to start pip for the fallback: next to the interpreter, or `python -m pip`."""
    if python and runner.local and os.sep in python:
        sibling = PurePath(python).parent / "pip"
        if os.access(sibling, os.X_OK):
            return [str(sibling)]
    if python:
        return [python, "-m", "pip"]
    return ["pip"]


def parse_pip_list(stdout: bytes) -> list[dict[str, Any]]:
    """Decode `pip list --format json` output (pip may print warnings before it)."""
    text = stdout.decode("utf-8", "replace")
    start = text.find("[")
    data = json_list(text[start:] if start >= 0 else text, "pip list")
    out = []
    for item in data:
        if isinstance(item, dict) and isinstance(item.get("name"), str) and item["name"]:
            version = item.get("version")
            out.append(
                {
                    "name": item["name"],
                    "version": pip_version_string(version) if isinstance(version, str) else None,
                }
            )
    out.sort(key=lambda p: canonicalize_name(p["name"]))
    return out


def probe_pip_list(runner: Runner, pip: list[str], not_required: bool) -> list[dict[str, Any]]:
    """Run `pip list [--not-required] --format json` and parse it."""
    argv = [*pip, "list", "--format", "json", "--disable-pip-version-check", "--no-color"]
    if not_required:
        argv.insert(len(pip) + 1, "--not-required")
    try:
        return parse_pip_list(runner.run(argv).stdout)
    except ProbeFailure as exc:
        if exc.kind != "garbage":
            raise
        raise ProbeFailure(f"{' '.join(argv[: len(pip) + 1])}: {exc}", kind=exc.kind) from None
