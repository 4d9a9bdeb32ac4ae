"""Find, read and resolve a config file: the file as written plus the final config."""

from __future__ import annotations

import os
import posixpath
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from buildcensus.config._parse import MAX_CONFIG_BYTES, TOO_LARGE, Parsed, parse_bytes, to_jsonable
from buildcensus.config._platform import Platform, load_platform
from buildcensus.config._validate import validate_v2
from buildcensus.errors import ConfigError, UsageError

# The platform's pattern: optional dot, "readthedocs", any one character, "yml" or "yaml".
CONFIG_FILENAME = re.compile(r"^\.?readthedocs.ya?ml$")
DEFAULT_NOT_FOUND = "config:path:default-not-found"
PATH_NOT_FOUND = "config:path:not-found"
SYMLINK_USED = "build:user:symlink:used"
UNREADABLE = "config:generic"


@dataclass
class ResolvedConfig:
    """A resolved config: the file as written (`user`, `user_raw`) and the `final` config."""

    version: str | None
    user: dict[str, Any] | None
    user_raw: str | None
    final: dict[str, Any] | None
    keys_set: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    path: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape the CLI prints and the build record stores."""
        return asdict(self)


def _candidates(checkout: Path) -> list[str]:
    try:
        names = os.listdir(checkout)
    except OSError as exc:
        raise UsageError(f"cannot list {checkout}: {exc.strerror or exc}") from exc
    # os.listdir order, as the platform: the first match wins.
    return [name for name in names if CONFIG_FILENAME.match(name)]


def find_config_file(checkout: Path) -> Path | None:
    """The config file the platform uses in a checkout root, or None when there is none."""
    found = _candidates(Path(checkout))
    return Path(checkout) / found[0] if found else None


def keys_set(data: dict[Any, Any]) -> list[str]:
    """Every dotted leaf key path the user wrote; empty mappings/lists and nulls are leaves."""
    out: list[str] = []

    def walk(value: Any, prefix: str) -> None:
        if isinstance(value, dict) and value:
            for k, v in value.items():
                walk(v, f"{prefix}.{_name(k)}")
        elif isinstance(value, list) and value:
            for i, v in enumerate(value):
                walk(v, f"{prefix}.{i}")
        else:
            out.append(prefix)

    for key, value in data.items():
        walk(value, _name(key))
    return out


def _name(key: Any) -> str:
    user = to_jsonable({key: None})
    return next(iter(user))


def _read(path: Path) -> bytes:
    try:
        with path.open("rb") as fh:
            data = fh.read(MAX_CONFIG_BYTES + 1)
    except OSError as exc:
        raise ConfigError(
            ".", UNREADABLE, f"cannot read {path.name}: {exc.strerror or exc}"
        ) from exc
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigError(".", TOO_LARGE, f"the file is larger than {MAX_CONFIG_BYTES} bytes")
    return data


def _base_dir(config: Path, checkout: Path, platform: Platform) -> str:
    """The config file's folder as it would sit in the platform's checkout."""
    rel = os.path.relpath(os.path.abspath(config.parent), os.path.abspath(checkout))
    rel_posix = "/".join(Path(rel).parts) if rel != "." else ""
    return posixpath.normpath(posixpath.join(platform.checkout_path, rel_posix))


def _check_symlink(config: Path, checkout: Path) -> None:
    real = os.path.realpath(config)
    root = os.path.realpath(checkout)
    if os.path.commonpath([real, root]) != root:
        raise ConfigError(
            ".",
            SYMLINK_USED,
            f"{config.name} is a symlink to a file outside the checkout",
        )


def resolve_text(
    data: bytes | str,
    *,
    platform: Path | dict | Platform | None = None,
    brownout: bool = False,
    base: str | None = None,
) -> ResolvedConfig:
    """Resolve config file content (bytes or text) as if found at the checkout root."""
    plat = load_platform(platform)
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    parsed = parse_bytes(raw)
    return _resolve_parsed(parsed, plat, base or plat.checkout_path, brownout, None)


def _resolve_parsed(
    parsed: Parsed, plat: Platform, base: str, brownout: bool, path: str | None
) -> ResolvedConfig:
    result = ResolvedConfig(
        version=None,
        user=to_jsonable(parsed.data),
        user_raw=parsed.raw,
        final=None,
        keys_set=keys_set(parsed.data),
        warnings=list(parsed.warnings),
        path=path,
    )
    try:
        result.final = validate_v2(parsed.data, plat, base, brownout=brownout)
    except ConfigError as exc:
        exc.partial = result  # type: ignore[attr-defined]  # the file as written, for records
        raise
    result.version = result.final["version"]
    return result


def resolve_config(
    path: Path | None = None,
    *,
    checkout: Path | None = None,
    platform: Path | dict | Platform | None = None,
    brownout: bool = False,
) -> ResolvedConfig:
    """Resolve the config of a checkout (or one file) exactly as the platform's loader does.

    `path` is a config file or a checkout directory; with `checkout` too, `path` is a custom
    config path (relative paths are tried inside the checkout first). Raises ConfigError.
    """
    plat = load_platform(platform)
    if path is None or Path(path).is_dir():
        root = Path(path) if path is not None else checkout
        if root is None:
            raise UsageError("give a config file or a checkout directory")
        root = Path(root)
        if not root.is_dir():
            raise UsageError(f"not a directory: {root}")
        checkout = Path(checkout) if checkout is not None else root
        found = _candidates(root)
        if not found:
            return ResolvedConfig(
                version=None,
                user=None,
                user_raw=None,
                final=None,
                warnings=[
                    f"{DEFAULT_NOT_FOUND}: no .readthedocs.yaml (or .yml, readthedocs.yaml, "
                    "readthedocs.yml) at the checkout root; the platform fails such builds"
                ],
            )
        config = root / found[0]
        extra = [f"other config files ignored: {', '.join(found[1:])}"] if found[1:] else []
    else:
        config = Path(path)
        if checkout is not None and not config.is_absolute() and (Path(checkout) / config).exists():
            config = Path(checkout) / config
        if not config.exists() and not config.is_symlink():
            raise ConfigError(".", PATH_NOT_FOUND, f"config file not found: {path}")
        checkout = Path(checkout) if checkout is not None else config.parent
        extra = []
    _check_symlink(config, checkout)
    parsed = parse_bytes(_read(config))
    parsed.warnings.extend(extra)
    return _resolve_parsed(parsed, plat, _base_dir(config, checkout, plat), brownout, str(config))
