"""`impact --where EXPR`: parse expressions into conditions (pure) and describe what matched.

Grammar (each expression is one condition; several `--where` are combined with AND):

    pip:sphinx<2            package installed, version in the specifier (ecosystem's rules)
    apt:libgraphviz-dev     package installed, any version
    conda:*                 the build used the ecosystem at all
    python<3.8              the build's Python version in the specifier
    tool:nodejs>=18         a build tool (build.tools) version in the specifier
    config:build.os=ubuntu-20.04        a config value (effective config)
    config:python.system_packages       a key the user set (or a key below it)
    os=ubuntu-20.04 | trigger=... | doctool=... | config_version=... | theme=...

Specifiers are checked in Python by `buildcensus.versions.matches` against the distinct
versions present in the warehouse; the SQL then gets a plain IN list, identical on every engine.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from buildcensus.errors import QueryError
from buildcensus.names import normalize
from buildcensus.reports._params import ECOSYSTEMS
from buildcensus.versions import matches

Kind = Literal["package", "any_package", "python", "tool", "config_value", "config_key", "column"]

#: `builds` columns an expression may compare with `=`.
COLUMNS = ("os", "trigger", "doctool", "config_version", "theme")

_SPEC_START = r"(?=[<>=!~\s]|$)"
_PACKAGE_RE = re.compile(
    rf"^(?P<eco>pip|conda|apt):(?P<name>\*|[A-Za-z0-9][A-Za-z0-9._+-]*(?::[a-z0-9]+)?){_SPEC_START}"
    r"\s*(?P<spec>.*)$"
)
_PYTHON_RE = re.compile(rf"^python{_SPEC_START}\s*(?P<spec>.*)$")
_TOOL_RE = re.compile(rf"^tool:(?P<name>[A-Za-z0-9][A-Za-z0-9._+-]*){_SPEC_START}\s*(?P<spec>.*)$")
_CONFIG_RE = re.compile(r"^config:(?P<key>[A-Za-z0-9_][A-Za-z0-9_.-]*)(?:=(?P<value>.*))?$")
_COLUMN_RE = re.compile(rf"^(?P<col>{'|'.join(COLUMNS)})=(?P<value>.+)$")


@dataclass(frozen=True)
class Condition:
    """One parsed `--where` expression."""

    text: str
    kind: Kind
    ecosystem: str | None = None  # package ecosystem; for python/tool the version rules to use
    name: str | None = None  # normalized package, tool name, config key or builds column
    spec: str = ""  # version specifier; '' means any version
    value: str | None = None  # config value or column value

    @property
    def needs_versions(self) -> bool:
        """True when the specifier must be resolved to an IN list of versions."""
        return bool(self.spec)


def rules(cond: Condition) -> str:
    """The `buildcensus.versions` ecosystem whose ordering a condition's specifier uses."""
    # Python and build-tool versions are dotted release numbers: PEP 440 orders them.
    return cond.ecosystem if cond.kind == "package" and cond.ecosystem else "python"


def _spec(text: str, spec: str, ecosystem: str) -> str:
    """Validate a specifier by the ecosystem's rules (QueryError naming the expression)."""
    spec = spec.strip()
    if not spec:
        return ""
    if ecosystem in ("pip", "python") and spec.startswith("=") and not spec.startswith("=="):
        spec = "=" + spec  # `python=3.7` reads as `python==3.7`
    try:
        matches(ecosystem, "1", spec)
    except ValueError as exc:
        raise QueryError(f"--where {text!r}: {exc}") from None
    return spec


def parse_where(text: str) -> Condition:
    """Parse one `--where` expression; raise QueryError naming the expression when invalid."""
    expr = text.strip()
    if m := _PACKAGE_RE.match(expr):
        eco, name = m.group("eco"), m.group("name")
        if name == "*":
            if m.group("spec").strip():
                raise QueryError(f"--where {text!r}: '*' takes no version specifier")
            return Condition(expr, "any_package", ecosystem=eco)
        spec = _spec(text, m.group("spec"), eco)
        return Condition(expr, "package", ecosystem=eco, name=normalize(eco, name), spec=spec)
    if m := _PYTHON_RE.match(expr):
        return Condition(
            expr, "python", ecosystem="python", name="python", spec=_spec(text, m["spec"], "python")
        )
    if m := _TOOL_RE.match(expr):
        spec = _spec(text, m.group("spec"), "python")
        return Condition(expr, "tool", ecosystem="tool", name=m.group("name").lower(), spec=spec)
    if m := _CONFIG_RE.match(expr):
        if m.group("value") is None:
            return Condition(expr, "config_key", name=m.group("key"))
        return Condition(expr, "config_value", name=m.group("key"), value=m.group("value"))
    if m := _COLUMN_RE.match(expr):
        return Condition(expr, "column", name=m.group("col"), value=m.group("value"))
    raise QueryError(
        f"--where {text!r}: expected ECOSYSTEM:PACKAGE[SPEC] (ecosystem one of "
        f"{', '.join(ECOSYSTEMS)}), ECOSYSTEM:*, python[SPEC], tool:NAME[SPEC], config:KEY[=VALUE] "
        f"or COLUMN=VALUE (COLUMN one of {', '.join(COLUMNS)})"
    )


def describe_match(cond: Condition, matched: object) -> str:
    """What a build matched for one condition, e.g. `pip:sphinx==1.8.5`."""
    m = "" if matched is None else str(matched)
    if cond.kind == "package":
        return f"{cond.ecosystem}:{cond.name}=={m}" if m else f"{cond.ecosystem}:{cond.name}"
    if cond.kind == "any_package":
        return f"{cond.ecosystem}:*"
    if cond.kind == "python":
        return f"python=={m}"
    if cond.kind == "tool":
        return f"tool:{cond.name}=={m}"
    if cond.kind == "config_value":
        return f"config:{cond.name}={cond.value}"
    if cond.kind == "config_key":
        return f"config:{cond.name}"
    return f"{cond.name}={m}"
