"""Identity rules: slugs, build ids and package-name normalization (pure functions)."""

from __future__ import annotations

import re
from functools import lru_cache

from packaging.utils import canonicalize_name

# The platform's slug alphabet: lowercase letters, digits, '-', '_' ('.' inside version slugs).
PROJECT_SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,254}$")
VERSION_SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,254}$")
# Build ids: the platform's are integers; CI systems may use opaque tokens.
BUILD_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$")


def is_project_slug(value: str) -> bool:
    """True when `value` is a valid project (or organization) slug."""
    return bool(PROJECT_SLUG_RE.fullmatch(value))


def is_version_slug(value: str) -> bool:
    """True when `value` is a valid version slug (no '..', no leading dot)."""
    return bool(VERSION_SLUG_RE.fullmatch(value)) and ".." not in value


def is_build_id(value: str) -> bool:
    """True when `value` can name a build in a storage key."""
    return bool(BUILD_ID_RE.fullmatch(value))


# The normalizers are pure and the same few thousand names recur in every record (the ingest
# service normalizes hundreds per request), so each keeps a bounded cache.
_CACHE_SIZE = 1 << 16


@lru_cache(maxsize=_CACHE_SIZE)
def normalize_pip(name: str) -> str:
    """PEP 503 normalized name: `Sphinx_RTD.theme` -> `sphinx-rtd-theme`."""
    return canonicalize_name(name)


@lru_cache(maxsize=_CACHE_SIZE)
def normalize_conda(name: str) -> str:
    """Conda names are case-insensitive; compare lowercase."""
    return name.strip().lower()


@lru_cache(maxsize=_CACHE_SIZE)
def normalize_apt(name: str) -> str:
    """Debian package names are lowercase; drop an architecture qualifier (`libc6:amd64`)."""
    return name.strip().lower().split(":", 1)[0]


NORMALIZERS = {"pip": normalize_pip, "conda": normalize_conda, "apt": normalize_apt}


def normalize(ecosystem: str, name: str) -> str:
    """Normalize a package name by its ecosystem's rules."""
    return NORMALIZERS[ecosystem](name)
