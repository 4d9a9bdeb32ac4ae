"""Version ordering by each ecosystem's rules, as pure functions.

`sort_key` turns a version into a printable ASCII string whose byte-wise order is the
ecosystem's order (oldest first), so any engine (DuckDB, Spark, SQLite) can `ORDER BY` and
range-filter versions with plain string comparison:

- pip (and `python`): PEP 440 (epochs, pre/post/dev releases, local labels); invalid versions
  sort before every valid one, by their text.
- apt: Debian policy as `dpkg --compare-versions` (epoch, upstream, revision, `~` first).
- conda: conda's `VersionOrder` (epoch `!`, local `+`, components split on `.` `_` `-`, numbers
  vs strings, `dev` < `_` < `a` < ... < numbers < `post`, case-insensitive).

Keys are built from self-delimiting tokens: a number is `len(3 digits) + digits` (leading zeros
dropped), a string ends with a terminator below every character it may contain.
"""

from __future__ import annotations

import re
from functools import lru_cache

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

__all__ = ["ECOSYSTEMS", "compare", "is_prerelease", "is_valid", "matches", "sort_key"]

ECOSYSTEMS = ("pip", "apt", "conda", "python")

_VALID = "1"
_INVALID = "0"


def _num(value: int | str) -> str:
    """A non-negative integer as a self-delimiting, order-preserving token."""
    digits = str(value).lstrip("0")
    if len(digits) > 999:  # absurd; clip deterministically
        digits = digits[:999]
    return f"{len(digits):03d}{digits}"


def _invalid_key(version: str) -> str:
    # Hex of the UTF-8 bytes keeps the key printable and orders invalid versions by their bytes.
    return _INVALID + version.encode("utf-8", "surrogatepass").hex()


# --------------------------------------------------------------------------- PEP 440


_PRE_RANK = {"a": "1", "b": "2", "rc": "3"}


def _pip_key(version: str) -> str:
    try:
        v = Version(version)
    except InvalidVersion:
        return _invalid_key(version)
    release = list(v.release)
    while len(release) > 1 and release[-1] == 0:
        release.pop()
    parts = [_VALID, _num(v.epoch)]
    parts.extend("B" + _num(x) for x in release)
    parts.append("A")
    # Pre-release: a bare dev release sorts before any pre-release of the same release.
    if v.pre is None and v.post is None and v.dev is not None:
        parts.append("0")
    elif v.pre is not None:
        parts.append("1" + _PRE_RANK[v.pre[0]] + _num(v.pre[1]))
    else:
        parts.append("2")
    parts.append("0" if v.post is None else "1" + _num(v.post))
    parts.append("1" if v.dev is None else "0" + _num(v.dev))
    if v.local is None:
        parts.append("0")
    else:
        parts.append("1")
        for seg in v.local.split("."):
            # PEP 440: alphanumeric segments sort before numeric ones.
            parts.append("C" + _num(seg) if seg.isdigit() else "B" + seg.lower() + "!")
        parts.append("A")
    return "".join(parts)


# --------------------------------------------------------------------------- Debian


_DEB_RE = re.compile(r"^(?:(\d+):)?([A-Za-z0-9.+~:-]+?)(?:-([A-Za-z0-9.+~]+))?$")
_DEB_RUN = re.compile(r"(\D*)(\d*)")


def _deb_char(c: str) -> str:
    if c == "~":
        return "#"
    if c.isalpha():
        return c
    return "{" + f"{ord(c):02x}"  # other characters sort after letters, by code


def _deb_part(text: str) -> str:
    """Encode an upstream version or revision as dpkg's verrevcmp orders it."""
    out: list[str] = []
    for nondigit, digits in _DEB_RUN.findall(text):
        if not nondigit and not digits:
            continue
        out.append("".join(_deb_char(c) for c in nondigit) + "$" + _num(digits or "0"))
    if not out:
        out.append("$" + _num(0))
    out.append("$")  # end of the part: between '~' and everything else, like dpkg's end
    return "".join(out)


def _deb_split(version: str) -> tuple[str, str, str] | None:
    v = version.strip()
    if not v or any(c.isspace() for c in v):
        return None
    epoch = "0"
    if ":" in v:
        epoch, _, v = v.partition(":")
        if not epoch.isdigit():
            return None
    upstream, revision = v, ""
    if "-" in v:
        upstream, _, revision = v.rpartition("-")
    if not upstream or not re.fullmatch(r"[A-Za-z0-9.+~:-]+", upstream):
        return None
    if revision and not re.fullmatch(r"[A-Za-z0-9.+~]+", revision):
        return None
    if "-" in version and not revision:
        return None
    return epoch, upstream, revision


def _apt_key(version: str) -> str:
    parts = _deb_split(version)
    if parts is None:
        return _invalid_key(version)
    epoch, upstream, revision = parts
    return _VALID + _num(epoch) + _deb_part(upstream) + _deb_part(revision)


# --------------------------------------------------------------------------- conda


_CONDA_CHECK = re.compile(r"^[*.+!_0-9a-z]+$")
_CONDA_SPLIT = re.compile(r"([0-9]+|[*]+|[^0-9*]+)")
_INF = float("inf")
Atom = int | float | str


def _conda_parse(version: str) -> tuple[list[list[Atom]], list[list[Atom]]] | None:
    """conda's VersionOrder parse: (version components incl. epoch, local components)."""
    v = version.strip().lower()
    if not v:
        return None
    if not _CONDA_CHECK.match(v):
        if "-" in v and "_" not in v:
            v = v.replace("-", "_")
        if not _CONDA_CHECK.match(v):
            return None
    pieces = v.split("!")
    if len(pieces) > 2 or (len(pieces) == 2 and not pieces[0].isdigit()):
        return None
    epoch = pieces[0] if len(pieces) == 2 else "0"
    main_local = pieces[-1].split("+")
    if len(main_local) > 2:
        return None
    main = main_local[0]
    local = main_local[1].replace("_", ".").split(".") if len(main_local) == 2 else []
    if not main:
        return None
    if main.endswith("_"):  # openssl-style trailing underscore stays on the last component
        comps = main[:-1].replace("_", ".").split(".")
        comps[-1] += "_"
    else:
        comps = main.replace("_", ".").split(".")
    out: list[list[list[Atom]]] = []
    for group in ([epoch, *comps], local):
        parsed: list[list[Atom]] = []
        for comp in group:
            runs = _CONDA_SPLIT.findall(comp)
            if not runs:
                return None
            atoms: list[Atom] = []
            for r in runs:
                if r.isdigit():
                    atoms.append(int(r))
                elif r == "post":
                    atoms.append(_INF)
                elif r == "dev":
                    atoms.append("DEV")
                else:
                    atoms.append(r)
            parsed.append(atoms if comp[0].isdigit() else [0, *atoms])
        out.append(parsed)
    return out[0], out[1]


def _atom_key(atom: Atom) -> str:
    if isinstance(atom, str):
        return atom + "!"  # '!' sorts below '*', 'DEV', '_' and letters
    if atom == _INF:
        return "J"
    return "I" + _num(int(atom))


def _conda_seq_key(items: list, is_zero, is_less, item_key) -> str:
    """Encode a sequence compared with an implicit infinite tail of zeros.

    Runs of zeros are counted; each non-zero item is tagged 'B' (sorts below zero) with the
    run length ascending, or 'D' (above zero) with the run length descending; 'C' ends.
    """
    out: list[str] = []
    run = 0
    for item in items:
        if is_zero(item):
            run += 1
            continue
        if is_less(item):
            out.append("B" + _num(run) + item_key(item))
        else:
            out.append("D" + f"{999 - min(run, 999):03d}" + item_key(item))
        run = 0
    out.append("C")
    return "".join(out)


def _atom_zero(a: Atom) -> bool:
    return not isinstance(a, str) and a == 0


def _comp_key(comp: list[Atom]) -> str:
    return _conda_seq_key(comp, _atom_zero, lambda a: isinstance(a, str), _atom_key)


def _comp_zero(comp: list[Atom]) -> bool:
    return all(_atom_zero(a) for a in comp)


def _comp_less(comp: list[Atom]) -> bool:
    first = next(a for a in comp if not _atom_zero(a))
    return isinstance(first, str)


def _conda_key(version: str) -> str:
    parsed = _conda_parse(version)
    if parsed is None:
        return _invalid_key(version)
    main, local = parsed
    return (
        _VALID
        + _conda_seq_key(main, _comp_zero, _comp_less, _comp_key)
        + _conda_seq_key(local, _comp_zero, _comp_less, _comp_key)
    )


# --------------------------------------------------------------------------- public API


_KEYS = {"pip": _pip_key, "python": _pip_key, "apt": _apt_key, "conda": _conda_key}


def _keyfn(ecosystem: str):
    try:
        return _KEYS[ecosystem]
    except KeyError:
        raise ValueError(f"unknown ecosystem {ecosystem!r} (known: pip, apt, conda)") from None


@lru_cache(maxsize=65536)
def sort_key(ecosystem: str, version: str) -> str:
    """A string whose byte-wise ascending order is the ecosystem's version order."""
    return _keyfn(ecosystem)(version)


def is_valid(ecosystem: str, version: str) -> bool:
    """True when `version` parses by the ecosystem's rules."""
    return sort_key(ecosystem, version).startswith(_VALID)


def compare(ecosystem: str, a: str, b: str) -> int:
    """-1, 0 or 1 as `a` is older than, equal to or newer than `b`."""
    ka, kb = sort_key(ecosystem, a), sort_key(ecosystem, b)
    return (ka > kb) - (ka < kb)


_CONDA_PRE = re.compile(r"^(dev|a|alpha|b|beta|c|rc|pre|preview)$")


def is_prerelease(ecosystem: str, version: str) -> bool:
    """True for pre-releases: PEP 440 a/b/rc/dev; Debian `~`; conda dev/a/b/rc/pre strings."""
    _keyfn(ecosystem)
    if ecosystem in ("pip", "python"):
        try:
            return Version(version).is_prerelease
        except InvalidVersion:
            return False
    if ecosystem == "apt":
        parts = _deb_split(version)
        return parts is not None and "~" in parts[1]
    parsed = _conda_parse(version)
    if parsed is None:
        return False
    return any(
        isinstance(a, str) and _CONDA_PRE.match(a.lower()) for comp in parsed[0] for a in comp
    )


_OP_RE = re.compile(r"^\s*(===|==|!=|<=|>=|<<|>>|~=|<|>|=)?\s*(\S+?)\s*$")


def _clause(ecosystem: str, version: str, clause: str) -> bool:
    m = _OP_RE.match(clause)
    if not m or not m.group(2):
        raise ValueError(f"invalid version specifier: {clause!r}")
    op, target = m.group(1) or "", m.group(2)
    if ecosystem == "conda" and op in ("", "=") or target.endswith("*"):
        if op not in ("", "=", "==", "!="):
            raise ValueError(f"invalid version specifier: {clause!r}")
        prefix = target.rstrip("*").rstrip(".").lower()
        v = version.strip().lower()
        hit = (
            v == prefix
            or v.startswith(prefix + ".")
            or (target.endswith("*") and not target.endswith(".*") and v.startswith(prefix))
        )
        return not hit if op == "!=" else hit
    if not is_valid(ecosystem, target):
        raise ValueError(f"invalid version in specifier: {clause!r}")
    c = compare(ecosystem, version, target)
    if op in ("", "=", "==", "==="):
        return c == 0
    if op == "!=":
        return c != 0
    if op in ("<", "<<"):
        return c < 0
    if op in (">", ">>"):
        return c > 0
    if op == "<=":
        return c <= 0
    if op == ">=":
        return c >= 0
    raise ValueError(f"operator {op!r} is not supported for {ecosystem}")


def matches(ecosystem: str, version: str, spec: str) -> bool:
    """True when `version` satisfies `spec` (`<2`, `>=1.0,<2`; conda also `|` and `1.8.*`).

    pip uses PEP 440 specifiers (pre-releases included); apt and conda use their own ordering
    with the same operators (apt also `<<`/`>>`, `=`); invalid versions never match.
    """
    _keyfn(ecosystem)
    if not is_valid(ecosystem, version):
        return False
    if ecosystem in ("pip", "python"):
        text = spec.strip()
        if text and text[0].isalnum():
            text = "==" + text
        try:
            return SpecifierSet(text).contains(Version(version), prereleases=True)
        except InvalidSpecifier:
            raise ValueError(f"invalid version specifier: {spec!r}") from None
    alternatives = spec.split("|") if ecosystem == "conda" else [spec]
    return any(
        all(_clause(ecosystem, version, c) for c in alt.split(",") if c.strip())
        for alt in alternatives
    )
