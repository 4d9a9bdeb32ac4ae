"""The platform profile: build images, tools, versions and their full versions."""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from buildcensus.errors import UsageError

_DEFAULT_CHECKOUT = "/home/docs/checkouts/readthedocs.org/user_builds/project/checkouts/latest"


@dataclass(frozen=True)
class Platform:
    """What a build platform offers: `os` maps build.os to an image, `tools` maps versions."""

    os: dict[str, str]
    tools: dict[str, dict[str, str]]
    checkout_path: str = _DEFAULT_CHECKOUT
    conda_prefixes: tuple[str, ...] = ("miniconda", "mambaforge", "miniforge")
    name: str = "custom"
    extra: dict[str, Any] = field(default_factory=dict)

    def is_conda(self, python_version: str | None) -> bool:
        """True when a build.tools.python version installs a conda-style interpreter."""
        return bool(python_version) and str(python_version).startswith(self.conda_prefixes)


def _bad(source: str, why: str) -> UsageError:
    return UsageError(f"invalid platform profile {source}: {why}")


def _str_map(value: Any, source: str, where: str) -> dict[str, str]:
    if not isinstance(value, dict) or not value:
        raise _bad(source, f"{where} must be a non-empty mapping")
    out: dict[str, str] = {}
    for k, v in value.items():
        if not isinstance(k, str) or not isinstance(v, str):
            raise _bad(source, f"{where}: {k!r}: {v!r}: keys and values must be quoted strings")
        out[k] = v
    return out


def platform_from_dict(data: Any, source: str = "<dict>") -> Platform:
    """Validate a platform profile given as a mapping."""
    if not isinstance(data, dict):
        raise _bad(source, "the top level must be a mapping")
    os_map = _str_map(data.get("os"), source, "os")
    raw_tools = data.get("tools")
    if not isinstance(raw_tools, dict) or not raw_tools:
        raise _bad(source, "tools must be a non-empty mapping")
    tools = {}
    for name, versions in raw_tools.items():
        if not isinstance(name, str):
            raise _bad(source, f"tools: {name!r}: tool names must be strings")
        tools[name] = _str_map(versions, source, f"tools.{name}")
    checkout = data.get("checkout_path", _DEFAULT_CHECKOUT)
    if not isinstance(checkout, str) or not posixpath.isabs(checkout):
        raise _bad(source, "checkout_path must be an absolute POSIX path")
    prefixes = data.get("conda_prefixes", ["miniconda", "mambaforge", "miniforge"])
    if not isinstance(prefixes, list) or not all(isinstance(p, str) and p for p in prefixes):
        raise _bad(source, "conda_prefixes must be a list of strings")
    known = {"os", "tools", "checkout_path", "conda_prefixes", "name"}
    return Platform(
        os=os_map,
        tools=tools,
        checkout_path=posixpath.normpath(checkout),
        conda_prefixes=tuple(prefixes),
        name=str(data.get("name", "custom")),
        extra={k: v for k, v in data.items() if k not in known},
    )


def load_platform(source: Path | str | dict | Platform | None = None) -> Platform:
    """Load the platform profile: the shipped one (None), a YAML file, or a mapping."""
    if isinstance(source, Platform):
        return source
    if isinstance(source, dict):
        return platform_from_dict(source)
    if source is None:
        text = resources.files("buildcensus").joinpath("data/platform.yaml").read_text("utf-8")
        label = "(built in)"
    else:
        label = str(source)
        try:
            text = Path(source).read_text("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise _bad(label, f"cannot read: {exc}") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise _bad(label, f"invalid YAML: {exc}") from exc
    return platform_from_dict(data, label)
