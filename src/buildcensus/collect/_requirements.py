"""Requirement files as pip reads them, parsed with `packaging`.

Follows pip's own line rules (comments, `\\` continuations, options after the requirement,
`-r`/`-c` includes relative to the including file, `-e`, URLs, paths, `--hash`), keeps each
specifier as written and never contacts an index. Problems are collected, never raised.
"""

from __future__ import annotations

import ast
import configparser
import re
import shlex
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from buildcensus.collect._run import ProbeFailure, read_local

MAX_FILE = 4 * 1024 * 1024
MAX_DEPTH = 10
COMMENT_RE = re.compile(r"(^|\s+)#.*$")
URL_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://|^file:")
VCS_PREFIXES = ("git+", "hg+", "svn+", "bzr+")
NAME_RE = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")
EGG_RE = re.compile(r"[#&]egg=([^&]+)")
ARCHIVE_EXT = (".whl", ".tar.gz", ".tgz", ".tar.bz2", ".tbz", ".tar.xz", ".txz", ".tar", ".zip")

# Options that take a value and do not change what is required.
VALUE_OPTIONS = {
    "-i",
    "--index-url",
    "--extra-index-url",
    "-f",
    "--find-links",
    "--trusted-host",
    "--no-binary",
    "--only-binary",
    "--use-feature",
    "--hash",
    "--global-option",
    "--install-option",
    "--config-settings",
    "-C",
    "--progress-bar",
}
FLAG_OPTIONS = {"--pre", "--no-index", "--prefer-binary", "--require-hashes", "--no-deps"}


@dataclass
class ParsedRequirements:
    """Requirements in file order, the files read, and what could not be understood."""

    requirements: list[dict[str, Any]] = field(default_factory=list)
    constraints: list[dict[str, Any]] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def logical_lines(text: str) -> Iterator[tuple[int, str]]:
    """(line number, line) after joining continuations and dropping comments, as pip does."""
    joined: list[str] = []
    first = 0
    numbered: list[tuple[int, str]] = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.endswith("\\") or COMMENT_RE.match(line):
            if COMMENT_RE.match(line):
                line = " " + line
            if joined:
                joined.append(line)
                numbered.append((first, "".join(joined)))
                joined = []
            else:
                numbered.append((number, line))
        else:
            if not joined:
                first = number
            joined.append(line.strip("\\"))
    if joined:
        numbered.append((first, "".join(joined)))
    for number, line in numbered:
        line = COMMENT_RE.sub("", line).strip()
        if line:
            yield number, line


def split_args_options(line: str) -> tuple[str, str]:
    """pip's `break_args_options`: the requirement part, then the options part."""
    tokens = line.split(" ")
    args: list[str] = []
    options = tokens[:]
    for token in tokens:
        if token.startswith("-"):
            break
        args.append(token)
        options.pop(0)
    return " ".join(args).strip(), " ".join(options).strip()


def project_name_at(path: Path) -> str | None:
    """The distribution name of a local project directory, read statically."""
    try:
        pyproject = path / "pyproject.toml"
        if pyproject.is_file():
            data = tomllib.loads(read_local(pyproject, MAX_FILE).decode("utf-8", "replace"))
            name = (data.get("project") or {}).get("name") or (
                ((data.get("tool") or {}).get("poetry") or {}).get("name")
            )
            if isinstance(name, str) and name:
                return name
        setup_cfg = path / "setup.cfg"
        if setup_cfg.is_file():
            cp = configparser.ConfigParser(interpolation=None)
            cp.read_string(read_local(setup_cfg, MAX_FILE).decode("utf-8", "replace"))
            name = cp.get("metadata", "name", fallback=None)
            if name and "%" not in name and ":" not in name:
                return name.strip()
        setup_py = path / "setup.py"
        if setup_py.is_file():
            tree = ast.parse(read_local(setup_py, MAX_FILE))
            for node in ast.walk(tree):
                if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "setup":
                    for kw in node.keywords:
                        if kw.arg == "name" and isinstance(kw.value, ast.Constant):
                            if isinstance(kw.value.value, str):
                                return kw.value.value
    except (ProbeFailure, OSError, ValueError, SyntaxError, configparser.Error, RecursionError):
        return None
    return None


def _name_from_link(link: str) -> str | None:
    """A name from `#egg=`, a wheel/sdist file name, or a VCS/URL path."""
    m = EGG_RE.search(link)
    if m:
        egg = unquote(m.group(1)).strip()
        egg = re.split(r"[\[<>=!~;\s]", egg, maxsplit=1)[0]
        if egg:
            return egg
    path = urlsplit(link.split("+", 1)[1] if link.startswith(VCS_PREFIXES) else link).path
    base = unquote(path.rstrip("/").rsplit("/", 1)[-1]).split("@", 1)[0]
    low = base.lower()
    if low.endswith(".whl"):
        return base.split("-", 1)[0]
    for ext in ARCHIVE_EXT:
        if low.endswith(ext):
            stem = base[: -len(ext)]
            m2 = re.match(r"^(.+?)-\d", stem)
            return m2.group(1) if m2 else stem
    if base.endswith(".git"):
        base = base[:-4]
    return base or None


class _Parser:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.out = ParsedRequirements()
        self.seen: set[Path] = set()

    def rel(self, path: Path) -> str:
        try:
            return str(path.resolve().relative_to(self.root.resolve()))
        except ValueError:
            return str(path)

    def parse_file(self, path: Path, *, constraint: bool, depth: int) -> None:
        resolved = path.resolve()
        if resolved in self.seen:
            return
        if depth > MAX_DEPTH:
            self.out.problems.append(f"{self.rel(path)}: includes nested deeper than {MAX_DEPTH}")
            return
        self.seen.add(resolved)
        if not resolved.is_relative_to(self.root.resolve()):
            # Never read host files a hostile checkout points at (`-r /etc/passwd`).
            self.out.problems.append(f"{self.rel(path)}: outside the checkout; not read")
            return
        try:
            data = read_local(path, MAX_FILE)
        except ProbeFailure as exc:
            self.out.problems.append(f"requirements file {exc}")
            return
        self.out.files.append(self.rel(path))
        self.parse_text(data.decode("utf-8-sig", "replace"), path, constraint, depth)

    def parse_text(self, text: str, path: Path, constraint: bool, depth: int) -> None:
        label = self.rel(path)
        for number, line in logical_lines(text):
            where = f"{label}:{number}"
            try:
                self.parse_line(line, path, where, constraint, depth)
            except ValueError as exc:
                self.out.problems.append(f"{where}: {exc}")

    def parse_line(self, line: str, path: Path, where: str, constraint: bool, depth: int) -> None:
        args, options = split_args_options(line)
        if args:
            self.add(self.requirement(args, where, editable=False), constraint)
            return
        try:
            tokens = shlex.split(options, comments=False)
        except ValueError:
            tokens = options.split()
        i = 0
        while i < len(tokens):
            tok = tokens[i]
            opt, eq, value = tok.partition("=") if tok.startswith("--") else (tok, "", "")
            if not eq and len(tok) > 2 and tok[:2] in ("-r", "-c", "-e", "-i", "-f"):
                opt, value, eq = tok[:2], tok[2:], "x"
            if opt in ("-r", "--requirement", "-c", "--constraint", "-e", "--editable"):
                if not eq:
                    i += 1
                    if i >= len(tokens):
                        raise ValueError(f"{opt} needs a value")
                    value = tokens[i]
                if opt in ("-e", "--editable"):
                    self.add(self.requirement(value, where, editable=True), constraint)
                else:
                    self.include(value, path, opt in ("-c", "--constraint") or constraint, depth)
            elif opt in VALUE_OPTIONS:
                if not eq:
                    i += 1
            elif opt in FLAG_OPTIONS:
                pass
            else:
                raise ValueError(f"unknown option {tok!r}")
            i += 1

    def include(self, target: str, path: Path, constraint: bool, depth: int) -> None:
        if URL_RE.match(target):
            self.out.problems.append(f"{self.rel(path)}: remote include {target} not followed")
            return
        self.parse_file(path.parent / target, constraint=constraint, depth=depth + 1)

    def add(self, req: dict[str, Any] | None, constraint: bool) -> None:
        if req is not None:
            (self.out.constraints if constraint else self.out.requirements).append(req)

    def requirement(self, text: str, where: str, *, editable: bool) -> dict[str, Any] | None:
        """One requirement (or editable/URL/path) as a PipRequirement-shaped dict."""
        text = text.strip()
        if not editable and not _looks_like_link(text):
            try:
                req = Requirement(text)
            except InvalidRequirement as exc:
                return self.fallback(text, where, exc)
            return _req_dict(req, where)
        # A link or path: `[-e] <url-or-path>[extras][; marker]` (marker after "; ").
        link, _, marker = text.partition("; ") if "; " in text else (text, "", "")
        link = link.strip()
        extras: list[str] = []
        m = re.search(r"\[([^\]]*)\]$", link)
        if m and not URL_RE.match(link):
            extras = sorted(e.strip() for e in m.group(1).split(",") if e.strip())
            link = link[: m.start()]
        elif m and "#egg=" not in link:
            extras = sorted(e.strip() for e in m.group(1).split(",") if e.strip())
            link = link[: m.start()]
        name: str | None = None
        is_url = bool(URL_RE.match(link)) or link.startswith(VCS_PREFIXES)
        if not is_url:
            local = self.root / link
            if local.is_dir():
                name = project_name_at(local)
        if name is None:
            name = _name_from_link(link) if (is_url or _is_archive(link)) else None
        if "[" in (name or ""):
            name, _, more = (name or "").partition("[")
            extras = sorted({*extras, *(e.strip() for e in more.rstrip("]").split(",") if e)})
        local_path = None
        if not is_url and not _is_archive(link):
            local_path = str((self.root / link).resolve())
        if not name:
            self.out.problems.append(f"{where}: cannot tell the project name of {link!r}")
            name = link
        return {
            "name": name,
            "specifier": "",
            "extras": extras,
            "marker": marker.strip() or None,
            "url": link,
            "editable": editable,
            "source": where,
            "_path": local_path,
        }

    def fallback(self, text: str, where: str, exc: Exception) -> dict[str, Any] | None:
        """Keep what a human would read from a line `packaging` rejects, and say so."""
        m = NAME_RE.match(text)
        first = str(exc).splitlines()[0] if str(exc) else "invalid"
        self.out.problems.append(f"{where}: invalid requirement {text!r}: {first}")
        rest, _, marker = text[m.end() :].partition(";") if m else ("", "", "")
        if not m or (rest.strip() and rest.strip()[0] not in "=<>!~[(,"):
            return None  # prose, not a requirement: pip would fail on it too
        return {
            "name": m.group(1),
            "specifier": rest.strip()[:4096],
            "extras": [],
            "marker": marker.strip() or None,
            "url": None,
            "editable": False,
            "source": where,
        }


def _looks_like_link(text: str) -> bool:
    if URL_RE.match(text) or text.startswith(VCS_PREFIXES):
        return True
    head = text.split(";", 1)[0].strip()
    if " @ " in head or "@" in head.split("/", 1)[0]:
        return False  # PEP 508 `name @ url`
    return head.startswith((".", "/", "~")) or "/" in head or _is_archive(head)


def _is_archive(text: str) -> bool:
    return text.lower().split("#", 1)[0].endswith(ARCHIVE_EXT)


def _req_dict(req: Requirement, where: str) -> dict[str, Any]:
    return {
        "name": req.name,
        "specifier": str(req.specifier),
        "extras": sorted(req.extras),
        "marker": str(req.marker) if req.marker is not None else None,
        "url": req.url,
        "editable": False,
        "source": where,
    }


def parse_requirements_file(path: Path, root: Path) -> ParsedRequirements:
    """Parse a requirements file and its includes; `root` is the checkout (pip's cwd)."""
    parser = _Parser(root)
    parser.parse_file(path, constraint=False, depth=0)
    return parser.out


def parse_requirements_text(
    text: str, root: Path, name: str = "requirements.txt"
) -> ParsedRequirements:
    """Parse requirement lines given as text (includes resolve against `root`)."""
    parser = _Parser(root)
    parser.parse_text(text, root / name, False, 0)
    return parser.out


def resolve_installed(
    reqs: list[dict[str, Any]],
    installed: dict[str, str | None],
    locations: dict[str, str] | None = None,
) -> None:
    """Fill `installed` from {normalized name: version}; name local paths from install URLs.

    `locations` maps an installed project's local source directory (from its PEP 610
    `direct_url.json`) to its name, so `-e .` becomes the project it installed.
    """
    for r in reqs:
        path = r.pop("_path", None)
        if path and r["name"] == r["url"]:
            found = (locations or {}).get(path.rstrip("/"))
            if found:
                r["name"] = found
            elif r["url"] not in (".", "./"):
                r["name"] = Path(path).name or r["name"]
        r["installed"] = installed.get(canonicalize_name(r["name"]))
