"""What changed between two build records (pure functions over re-hydrated record dicts).

Shape of a diff (the JSON the CLI, the service and the dashboard share):

* `build`: `{"from": summary, "to": summary}` of the two builds (id, project, version, start,
  success, commit, trigger).
* `packages`: only what changed, one entry per (ecosystem, scope, package):
  `{"ecosystem", "scope", "name", "normalized", "change", "from", "to"}` where `change` is
  `added`, `removed`, `upgraded`, `downgraded` (judged by the ecosystem's version rules) or
  `changed` (versions that cannot be ordered, or that are equal by the rules but spelled
  differently, or only the requirement's specifier / conda channel / build string changed; those
  entries also carry `{"specifier"|"channel"|"build": {"from", "to"}}`).
* `config`: only what changed: `{"key", "source", "change", "from", "to"}` with `key` a dotted
  path (list indices as numbers, as in the warehouse's `config_keys`), `source` `user` or
  `final`, `change` `added`, `removed` or `changed`; values are JSON values (`null` when absent).
* `python`, `os`: always `{"from", "to"}` (equal when unchanged), so a side-by-side view can
  show them.
* `tools`: only what changed: `{"name", "change", "from", "to"}` (PEP 440 order when both parse).
* `doctool`: `name`, `theme`, `builder` always `{"from", "to"}`; `extensions`, `plugins`,
  `markdown_extensions` as `{"added": [...], "removed": [...]}` (sorted).
* `summary`: counts of changed entries per section, and `changed` (true when anything differs).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from buildcensus import versions
from buildcensus.names import normalize

ECOSYSTEMS = ("pip", "conda", "apt")
SCOPES: dict[str, tuple[str, ...]] = {
    "pip": ("user", "top_level", "all"),
    "conda": ("user", "all"),
    "apt": ("user", "all"),
}
DOCTOOL_SCALARS = ("name", "theme", "builder")
DOCTOOL_LISTS = ("extensions", "plugins", "markdown_extensions")
SUMMARY_FIELDS = ("id", "project", "version", "start", "success", "commit", "trigger")

_MISSING = object()


# --------------------------------------------------------------------------- versions


def version_change(ecosystem: str, old: str | None, new: str | None) -> str | None:
    """`upgraded`/`downgraded`/`changed` between two versions, None when they are the same."""
    if old == new:
        return None
    if old is None or new is None:
        return "changed"
    # Invalid versions sort before valid ones in `versions`; that is no evidence of direction.
    if not (versions.is_valid(ecosystem, old) and versions.is_valid(ecosystem, new)):
        return "changed"
    order = versions.compare(ecosystem, old, new)
    if order < 0:
        return "upgraded"
    if order > 0:
        return "downgraded"
    return "changed"


# --------------------------------------------------------------------------- config


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """Leaves of a JSON value by dotted path; list indices are numbers (`a.b.0.c`).

    Empty objects and lists are leaves themselves, so adding `{}` is still a change.
    """
    out: dict[str, Any] = {}
    stack: list[tuple[str, Any]] = [(prefix, value)]
    while stack:  # iterative: configs are bounded in depth, but never trust recursion
        path, v = stack.pop()
        if isinstance(v, dict) and v:
            stack.extend((f"{path}.{k}" if path else str(k), x) for k, x in v.items())
        elif isinstance(v, list) and v:
            stack.extend((f"{path}.{i}" if path else str(i), x) for i, x in enumerate(v))
        elif path:
            out[path] = v
    return out


def _path_order(key: str) -> tuple[tuple[int, int | str], ...]:
    """Sort dotted paths naturally: numeric parts as numbers (`a.2` before `a.10`)."""
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in key.split("."))


def diff_config(old: Any, new: Any, source: str) -> list[dict[str, Any]]:
    """Changed leaves between two config objects, as `{key, source, change, from, to}`."""
    a = flatten(old) if old is not None else {}
    b = flatten(new) if new is not None else {}
    out = []
    for key in sorted(a.keys() | b.keys(), key=_path_order):
        va, vb = a.get(key, _MISSING), b.get(key, _MISSING)
        if va is _MISSING:
            change = "added"
        elif vb is _MISSING:
            change = "removed"
        elif va == vb and type(va) is type(vb):
            continue
        else:
            change = "changed"
        out.append(
            {
                "key": key,
                "source": source,
                "change": change,
                "from": None if va is _MISSING else va,
                "to": None if vb is _MISSING else vb,
            }
        )
    return out


# --------------------------------------------------------------------------- packages


def _version_of(scope: str, item: dict[str, Any]) -> str | None:
    return item.get("installed") if scope == "user" else item.get("version")


def _extras(ecosystem: str, scope: str) -> tuple[str, ...]:
    """Fields besides the version whose change is worth reporting."""
    if scope == "user":
        return ("specifier", "channel") if ecosystem == "conda" else ("specifier",)
    if ecosystem == "conda":
        return ("channel", "build")
    return ()


def _index(ecosystem: str, items: Iterable[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Packages by normalized name; names that repeat (apt multi-arch) keep their own spelling."""
    items = list(items)
    norm = [it.get("normalized") or normalize(ecosystem, it["name"]) for it in items]
    seen: dict[str, int] = {}
    for n in norm:
        seen[n] = seen.get(n, 0) + 1
    out: dict[str, dict[str, Any]] = {}
    for n, it in zip(norm, items, strict=True):
        key = n if seen[n] == 1 else it["name"].strip().lower()
        out[key] = {**it, "normalized": n}
    return out


def diff_package_list(
    ecosystem: str, scope: str, old: Iterable[dict[str, Any]], new: Iterable[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Added/removed/upgraded/downgraded/changed packages of one (ecosystem, scope) list."""
    a, b = _index(ecosystem, old), _index(ecosystem, new)
    out = []
    for key in sorted(a.keys() | b.keys()):
        pa, pb = a.get(key), b.get(key)
        item = pb or pa
        assert item is not None
        va = _version_of(scope, pa) if pa else None
        vb = _version_of(scope, pb) if pb else None
        extra: dict[str, Any] = {}
        if pa is None:
            change: str | None = "added"
        elif pb is None:
            change = "removed"
        else:
            change = version_change(ecosystem, va, vb)
            for field in _extras(ecosystem, scope):
                fa, fb = pa.get(field), pb.get(field)
                if (fa or None) != (fb or None):
                    extra[field] = {"from": fa, "to": fb}
            if change is None and extra:
                change = "changed"
        if change is None:
            continue
        out.append(
            {
                "ecosystem": ecosystem,
                "scope": scope,
                "name": item["name"],
                "normalized": item["normalized"],
                "change": change,
                "from": va,
                "to": vb,
                **extra,
            }
        )
    return out


def _packages(record: dict[str, Any], ecosystem: str, scope: str) -> list[dict[str, Any]]:
    pk = (record.get("packages") or {}).get(ecosystem) or {}
    items = pk.get(scope) or []
    return items if isinstance(items, list) else []


def diff_packages(a: dict[str, Any], b: dict[str, Any]) -> list[dict[str, Any]]:
    """Package changes of every ecosystem and scope, in ecosystem, scope, name order."""
    out: list[dict[str, Any]] = []
    for eco in ECOSYSTEMS:
        for scope in SCOPES[eco]:
            out.extend(
                diff_package_list(eco, scope, _packages(a, eco, scope), _packages(b, eco, scope))
            )
    return out


# --------------------------------------------------------------------------- the rest


def diff_tools(old: dict[str, Any] | None, new: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Changed build tools (`python`, `nodejs`, ...), ordered by PEP 440 when both parse."""
    a, b = old or {}, new or {}
    out = []
    for name in sorted(a.keys() | b.keys()):
        va, vb = a.get(name), b.get(name)
        if name not in a:
            change: str | None = "added"
        elif name not in b:
            change = "removed"
        else:
            change = version_change("pip", va, vb)
        if change is not None:
            out.append({"name": name, "change": change, "from": va, "to": vb})
    return out


def _set_change(old: Iterable[str] | None, new: Iterable[str] | None) -> dict[str, list[str]]:
    a, b = set(old or ()), set(new or ())
    return {"added": sorted(b - a), "removed": sorted(a - b)}


def diff_doctool(old: dict[str, Any] | None, new: dict[str, Any] | None) -> dict[str, Any]:
    """Doctool name/theme/builder as from/to, extension-like lists as added/removed."""
    a, b = old or {}, new or {}
    out: dict[str, Any] = {k: {"from": a.get(k), "to": b.get(k)} for k in DOCTOOL_SCALARS}
    out.update({k: _set_change(a.get(k), b.get(k)) for k in DOCTOOL_LISTS})
    return out


def build_summary(record: dict[str, Any]) -> dict[str, Any]:
    """Who a build is: id, project, version, start, success, commit, trigger."""
    build = record.get("build") or {}
    return {
        "id": build.get("id"),
        "project": (record.get("project") or {}).get("slug"),
        "version": (record.get("version") or {}).get("slug"),
        "start": build.get("start"),
        "success": build.get("success"),
        "commit": build.get("commit"),
        "trigger": build.get("trigger"),
    }


def _count_doctool(doctool: dict[str, Any]) -> int:
    n = sum(1 for k in DOCTOOL_SCALARS if doctool[k]["from"] != doctool[k]["to"])
    return n + sum(len(doctool[k]["added"]) + len(doctool[k]["removed"]) for k in DOCTOOL_LISTS)


def diff_records(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """What changed from build record `a` to build record `b` (see the module docstring)."""
    ca, cb = a.get("config") or {}, b.get("config") or {}
    config = diff_config(ca.get("user"), cb.get("user"), "user")
    config += diff_config(ca.get("final"), cb.get("final"), "final")
    out: dict[str, Any] = {
        "build": {"from": build_summary(a), "to": build_summary(b)},
        "packages": diff_packages(a, b),
        "config": config,
        "python": {"from": a.get("python"), "to": b.get("python")},
        "os": {"from": a.get("os"), "to": b.get("os")},
        "tools": diff_tools(a.get("tools"), b.get("tools")),
        "doctool": diff_doctool(a.get("doctool"), b.get("doctool")),
    }
    counts = {
        "packages": len(out["packages"]),
        "config": len(config),
        "python": int(out["python"]["from"] != out["python"]["to"]),
        "os": int(out["os"]["from"] != out["os"]["to"]),
        "tools": len(out["tools"]),
        "doctool": _count_doctool(out["doctool"]),
    }
    out["summary"] = {**counts, "changed": any(counts.values())}
    return out


def iter_changes(diff: dict[str, Any]) -> Iterator[tuple[str, str, str, Any, Any]]:
    """Every change of a diff as (section, what, change, from, to) — for tables and text."""
    for p in diff["packages"]:
        what = f"{p['ecosystem']}/{p['scope']} {p['name']}"
        yield "packages", what, p["change"], p["from"], p["to"]
        for field in ("specifier", "channel", "build"):
            if field in p:
                yield "packages", f"{what} ({field})", "changed", p[field]["from"], p[field]["to"]
    for c in diff["config"]:
        yield "config", f"{c['source']}: {c['key']}", c["change"], c["from"], c["to"]
    for section in ("python", "os"):
        if diff[section]["from"] != diff[section]["to"]:
            yield section, section, "changed", diff[section]["from"], diff[section]["to"]
    for t in diff["tools"]:
        yield "tools", t["name"], t["change"], t["from"], t["to"]
    dt = diff["doctool"]
    for k in DOCTOOL_SCALARS:
        if dt[k]["from"] != dt[k]["to"]:
            yield "doctool", k, "changed", dt[k]["from"], dt[k]["to"]
    for k in DOCTOOL_LISTS:
        for name in dt[k]["added"]:
            yield "doctool", f"{k} {name}", "added", None, name
        for name in dt[k]["removed"]:
            yield "doctool", f"{k} {name}", "removed", name, None
