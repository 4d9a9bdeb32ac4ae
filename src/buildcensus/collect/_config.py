"""The build's config file: as written (`user`, `user_raw`) and resolved (`final`).

Resolution is `buildcensus.config`'s job; when it is unavailable or rejects the file, the
file is still read (and parsed safely) here so the record keeps what the user wrote.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from buildcensus.collect._run import ProbeFailure, read_local

MAX_CONFIG = 1_000_000
CONFIG_NAMES = (".readthedocs.yaml", ".readthedocs.yml", "readthedocs.yaml", "readthedocs.yml")


@dataclass
class ConfigInfo:
    """The config part of the record, plus problems met on the way."""

    user: dict[str, Any] | None = None
    user_raw: str | None = None
    final: dict[str, Any] | None = None
    version: str | None = None
    path: str | None = None
    warnings: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    file: Path | None = None

    def effective(self) -> dict[str, Any]:
        """The final config when there is one, else the user's (to find files to read)."""
        if isinstance(self.final, dict):
            return self.final
        return self.user if isinstance(self.user, dict) else {}


def jsonable(value: Any, depth: int = 0) -> Any:
    """Plain JSON types only (YAML may give dates, sets, tagged values, non-string keys)."""
    if depth > 60:
        return None
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, dict):
        return {str(k): jsonable(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v, depth + 1) for v in value]
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def find_config(checkout: Path) -> Path | None:
    """The config file at the checkout root (platform names, first match)."""
    try:
        from buildcensus.config import find_config_file

        found = find_config_file(checkout)
        return Path(found) if found else None
    except ImportError:
        pass
    for name in CONFIG_NAMES:
        if (checkout / name).is_file():
            return checkout / name
    return None


def _rel(path: Path, checkout: Path) -> str:
    try:
        return str(path.resolve().relative_to(checkout.resolve()))
    except (ValueError, OSError):
        return str(path)


def _parse_user(raw: bytes) -> dict[str, Any] | None:
    """The user's YAML as data, with whatever safe parser is available."""
    try:
        from buildcensus.config import parse_bytes

        data = parse_bytes(raw).data
    except ImportError:
        from buildcensus.collect._mkdocs import load_yaml

        data = load_yaml(raw.decode("utf-8-sig", "replace"))
    return jsonable(data) if isinstance(data, dict) else None


def read_config(checkout: Path, config: Path | None) -> ConfigInfo:
    """Find, read and resolve the config; every problem is kept in `problems`."""
    info = ConfigInfo()
    path = config
    if path is not None and not path.is_absolute() and (checkout / path).exists():
        path = checkout / path
    if path is None:
        path = find_config(checkout)
    if path is None:
        info.problems.append(f"no config file at the checkout root ({checkout})")
        return info
    info.file = path
    info.path = _rel(path, checkout)
    try:
        raw = read_local(path, MAX_CONFIG)
    except ProbeFailure as exc:
        info.problems.append(str(exc))
        return info
    info.user_raw = raw.decode("utf-8-sig", "replace")
    try:
        from buildcensus.config import resolve_config
    except ImportError as exc:
        info.problems.append(f"config resolution unavailable ({exc}); kept the file as written")
        resolve_config = None  # type: ignore[assignment]
    if resolve_config is not None:
        try:
            resolved = resolve_config(path, checkout=checkout)
        except Exception as exc:  # ConfigError, UsageError, or a bug: the build goes on
            info.problems.append(f"{type(exc).__name__}: {exc}")
        else:
            info.user = jsonable(resolved.user) if isinstance(resolved.user, dict) else None
            info.final = jsonable(resolved.final) if isinstance(resolved.final, dict) else None
            info.version = str(resolved.version) if resolved.version is not None else None
            info.warnings = [str(w)[:4096] for w in (resolved.warnings or [])][:1000]
            if resolved.user_raw is not None:
                info.user_raw = resolved.user_raw
    if info.user is None:
        try:
            info.user = _parse_user(raw)
        except Exception as exc:
            info.problems.append(f"cannot parse the config file: {exc}")
    if info.version is None and isinstance(info.user, dict) and "version" in info.user:
        info.version = str(info.user["version"])
    return info
