"""Config files: find, parse safely and resolve the final config as the build platform does.

Pure core: no CLI or web imports. See docs/config.md for the rules and the choices made.
"""

from __future__ import annotations

from buildcensus.config._parse import MAX_CONFIG_BYTES, parse_bytes, parse_text
from buildcensus.config._platform import Platform, load_platform
from buildcensus.config._resolve import (
    ResolvedConfig,
    find_config_file,
    keys_set,
    resolve_config,
    resolve_text,
)
from buildcensus.config._validate import normalize_path, normalize_pattern, validate_v2

__all__ = [
    "MAX_CONFIG_BYTES",
    "Platform",
    "ResolvedConfig",
    "find_config_file",
    "keys_set",
    "load_platform",
    "normalize_path",
    "normalize_pattern",
    "parse_bytes",
    "parse_text",
    "resolve_config",
    "resolve_text",
    "validate_v2",
]
