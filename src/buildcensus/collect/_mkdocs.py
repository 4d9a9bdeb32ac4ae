"""MkDocs settings from `mkdocs.yml`, read safely (no tag ever imports or runs anything).

`!!python/name:...`, `!!python/object/apply:...`, `!ENV`, `!relative` and any other tag become
opaque values. Duplicate top-level keys: the last one wins, as in MkDocs. `INHERIT` merges the
parent file the way MkDocs does (mappings merged recursively, other values replaced).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from buildcensus.collect._run import ProbeFailure, read_local

MAX_FILE = 4 * 1024 * 1024
MAX_INHERIT = 10


@dataclass(frozen=True)
class Tagged:
    """A value under a tag the reader does not interpret (kept opaque)."""

    tag: str
    value: Any


class _Loader(yaml.SafeLoader):
    """Safe loader that tolerates every tag instead of rejecting the file."""


def _construct_tagged(loader: _Loader, tag_suffix: str, node: yaml.Node) -> Tagged:
    if isinstance(node, yaml.MappingNode):
        value: Any = loader.construct_mapping(node, deep=True)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_scalar(node)
    return Tagged(node.tag, value)


def _construct_env(loader: _Loader, node: yaml.Node) -> Any:
    """`!ENV NAME` / `!ENV [NAME, ..., default]`: the default as written (build env unknown)."""
    if isinstance(node, yaml.SequenceNode):
        items = loader.construct_sequence(node, deep=True)
        return items[-1] if len(items) > 1 else None
    return None


_Loader.add_constructor("!ENV", _construct_env)
_Loader.add_multi_constructor("!", _construct_tagged)
_Loader.add_multi_constructor("tag:yaml.org,2002:python/", _construct_tagged)
_Loader.add_multi_constructor("tag:", _construct_tagged)


def load_yaml(text: str) -> Any:
    """Load YAML with the tolerant safe loader."""
    return yaml.load(text, Loader=_Loader)  # noqa: S506 - _Loader is a SafeLoader subclass


@dataclass
class MkDocsSettings:
    """What the doc tool uses, as the file (and its INHERIT parents) says."""

    theme: str | None = None
    plugins: list[str] = field(default_factory=list)
    markdown_extensions: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def _names(value: Any) -> list[str]:
    """Names from a list of strings / one-key mappings, or from a mapping's keys."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [str(k) for k in value if k is not None]
    if isinstance(value, list):
        out = []
        for item in value:
            if isinstance(item, str):
                out.append(item)
            elif isinstance(item, dict):
                out.extend(str(k) for k in item if k is not None)
            elif isinstance(item, int | float) and not isinstance(item, bool):
                out.append(str(item))
        return out
    return []


def _theme(value: Any) -> str | None:
    if isinstance(value, str):
        return value or None
    if isinstance(value, dict):
        name = value.get("name")
        return str(name) if isinstance(name, str) and name else None
    return None


def merge(parent: Any, child: Any) -> Any:
    """MkDocs' INHERIT merge: mappings merge recursively, anything else is replaced."""
    if isinstance(parent, dict) and isinstance(child, dict):
        out = dict(parent)
        for key, value in child.items():
            out[key] = merge(parent[key], value) if key in parent else value
        return out
    return child


def load_config(path: Path, *, root: Path | None = None, depth: int = 0) -> dict[str, Any]:
    """Load a mkdocs.yml with INHERIT resolved; raises ProbeFailure with a clear message."""
    data = read_local(path, MAX_FILE).decode("utf-8-sig", "replace")
    try:
        config = load_yaml(data)
    except yaml.YAMLError as exc:
        first = " ".join(str(exc).split())[:300]
        raise ProbeFailure(f"{path.name}: invalid YAML: {first}", kind="garbage") from None
    except RecursionError:
        raise ProbeFailure(f"{path.name}: nested too deeply", kind="garbage") from None
    if config is None:
        return {}
    if not isinstance(config, dict):
        raise ProbeFailure(f"{path.name}: not a mapping", kind="garbage")
    parent_ref = config.pop("INHERIT", None)
    if isinstance(parent_ref, str) and parent_ref:
        if depth >= MAX_INHERIT:
            raise ProbeFailure(f"{path.name}: INHERIT nested deeper than {MAX_INHERIT}")
        parent_path = (path.parent / parent_ref).resolve()
        if root is not None and not parent_path.is_relative_to(root.resolve()):
            raise ProbeFailure(f"{path.name}: INHERIT points outside the checkout: {parent_ref}")
        parent = load_config(parent_path, root=root, depth=depth + 1)
        config = merge(parent, config)
    return config


def settings_from_config(config: dict[str, Any]) -> MkDocsSettings:
    """Theme, plugins and markdown extensions from a loaded configuration."""
    s = MkDocsSettings()
    s.theme = _theme(config.get("theme"))
    if isinstance(config.get("theme"), dict) and s.theme is None:
        s.problems.append("theme has no name (custom_dir only?)")
    s.plugins = _names(config.get("plugins"))
    s.markdown_extensions = _names(config.get("markdown_extensions"))
    return s


def read_mkdocs(path: Path, root: Path | None = None) -> MkDocsSettings:
    """Read a mkdocs.yml (following INHERIT inside `root`); problems are reported, not raised."""
    try:
        config = load_config(path, root=root)
    except ProbeFailure as exc:
        return MkDocsSettings(problems=[str(exc)])
    return settings_from_config(config)
