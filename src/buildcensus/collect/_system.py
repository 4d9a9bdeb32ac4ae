"""The operating system (os-release, lsb_release) and its Debian packages (dpkg-query)."""

from __future__ import annotations

import re
import shlex
from typing import Any

from buildcensus.collect._run import ProbeFailure, Runner

DPKG_FORMAT = r"${binary:Package}\t${Version}\t${db:Status-Abbrev}\n"
PYTHON_VERSION_RE = re.compile(r"Python\s+(\d+\.\d+(?:\.\d+)?[a-z0-9+]*)", re.IGNORECASE)


def parse_dpkg(stdout: bytes) -> list[dict[str, Any]]:
    """Installed packages from `dpkg-query -W -f` output (name, version, status)."""
    text = stdout.decode("utf-8", "replace")
    out: list[dict[str, Any]] = []
    bad = 0
    for line in text.splitlines():
        if not line.strip():
            continue
        parts = line.split("\t")
        if len(parts) < 2 or not re.fullmatch(r"[a-z0-9][a-z0-9+.\-]*(:[a-z0-9\-]+)?", parts[0]):
            bad += 1
            continue
        status = parts[2] if len(parts) > 2 else "ii"
        if len(status) > 1 and status[1] not in ("i",):  # not installed (config files only...)
            continue
        out.append({"name": parts[0], "version": parts[1] or None})
    if bad and (not out or bad > len(out) // 10):
        raise ProbeFailure(
            f"dpkg-query printed {bad} line(s) that are not package records", kind="garbage"
        )
    out.sort(key=lambda p: p["name"])
    return out


def probe_dpkg(runner: Runner) -> list[dict[str, Any]]:
    """All installed Debian packages with versions."""
    return parse_dpkg(runner.run(["dpkg-query", "-W", "-f", DPKG_FORMAT]).stdout)


def parse_os_release(text: str) -> str:
    """`ubuntu-24.04` (ID-VERSION_ID) from an os-release file, else its PRETTY_NAME."""
    values: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, raw = line.partition("=")
        try:
            parts = shlex.split(raw)
        except ValueError:
            parts = [raw.strip("\"'")]
        values[key.strip()] = parts[0] if parts else ""
    os_id, version = values.get("ID"), values.get("VERSION_ID")
    if os_id and version:
        return f"{os_id}-{version}"
    if values.get("PRETTY_NAME"):
        return values["PRETTY_NAME"]
    if os_id:
        return os_id
    raise ProbeFailure("os-release has neither ID/VERSION_ID nor PRETTY_NAME", kind="garbage")


def probe_os(runner: Runner) -> str:
    """The OS from /etc/os-release (or /usr/lib/os-release), else `lsb_release`."""
    problems = []
    for path in ("/etc/os-release", "/usr/lib/os-release"):
        try:
            return parse_os_release(runner.read_file(path, 64 * 1024).decode("utf-8", "replace"))
        except ProbeFailure as exc:
            problems.append(str(exc))
    try:
        res = runner.run(["lsb_release", "-sir"])
        words = res.stdout.decode("utf-8", "replace").split()
        if len(words) >= 2:
            return f"{words[0].lower()}-{words[-1]}"
        problems.append("lsb_release printed nothing usable")
    except ProbeFailure as exc:
        problems.append(str(exc))
    raise ProbeFailure("; ".join(problems))


def parse_python_version(output: bytes) -> str:
    """`3.12.1` from `python --version` output (stdout or stderr)."""
    m = PYTHON_VERSION_RE.search(output.decode("utf-8", "replace"))
    if not m:
        raise ProbeFailure(f"unexpected output {output[:80]!r}", kind="garbage")
    return m.group(1)


def probe_python_version(runner: Runner, python: str) -> str:
    """The interpreter's full version from `python --version` (old ones print to stderr)."""
    res = runner.run([python, "--version"])
    return parse_python_version(res.stdout + b"\n" + res.stderr)
