"""Fixtures for the collector tests: real virtual environments, built once and cached.

The venvs live under `$BUILDCENSUS_TEST_CACHE` (default: `<tmp>/buildcensus-test-venvs`),
keyed by the package list and the interpreter, and are reused by later sessions.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

# The corpus sits next to the repository (`../shared/corpus`); BUILDCENSUS_CORPUS overrides.
CORPUS = Path(
    os.environ.get("BUILDCENSUS_CORPUS")
    or Path(__file__).resolve().parents[3] / "shared" / "corpus"
)

SPHINX_VENV = ("sphinx", "sphinx-copybutton", "furo")
MKDOCS_VENV = ("mkdocs", "mkdocs-material")


def _cache_root() -> Path:
    root = os.environ.get("BUILDCENSUS_TEST_CACHE") or os.path.join(
        tempfile.gettempdir(), "buildcensus-test-venvs"
    )
    path = Path(root)
    path.mkdir(parents=True, exist_ok=True)
    return path


def build_venv(packages: tuple[str, ...]) -> Path:
    """A venv with `packages` installed from the package index (cached across sessions)."""
    key = hashlib.sha256(json.dumps([sys.version, packages]).encode()).hexdigest()[:12]
    root = _cache_root()
    venv = root / f"venv-{key}"
    ready = venv / ".buildcensus-ready"
    with open(root / f".lock-{key}", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two sessions must not build the same venv at once
        if not ready.exists():
            shutil.rmtree(venv, ignore_errors=True)
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
            env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
            subprocess.run(
                [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", *packages],
                check=True,
                env=env,
                timeout=600,
            )
            ready.write_text(json.dumps(packages))
    return venv


@pytest.fixture(scope="session")
def sphinx_venv() -> Path:
    """A venv with Sphinx, an extension (sphinx-copybutton) and a theme (furo)."""
    return build_venv(SPHINX_VENV)


@pytest.fixture(scope="session")
def mkdocs_venv() -> Path:
    """A venv with MkDocs and the Material theme."""
    return build_venv(MKDOCS_VENV)


def _pip_list(venv: Path, *flags: str) -> set[tuple[str, str]]:
    """What `pip list --format json [flags]` reports: normalized (name, version) pairs."""
    from packaging.utils import canonicalize_name

    out = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "list", "--format", "json", *flags],
        check=True,
        capture_output=True,
        env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"},
    ).stdout
    return {(canonicalize_name(p["name"]), p["version"]) for p in json.loads(out)}


def _pairs(packages: list) -> set[tuple[str, str]]:
    """Normalized (name, version) pairs of record packages (dicts or models)."""
    from packaging.utils import canonicalize_name

    out = set()
    for p in packages:
        d = p if isinstance(p, dict) else p.model_dump()
        out.add((canonicalize_name(d["name"]), d["version"]))
    return out


@pytest.fixture(scope="session")
def pip_list():
    """`pip_list(venv, *flags)`: normalized (name, version) pairs pip itself reports."""
    return _pip_list


@pytest.fixture(scope="session")
def pairs():
    """`pairs(packages)`: normalized (name, version) pairs of collected packages."""
    return _pairs


@pytest.fixture(scope="session")
def corpus() -> Path:
    """The shared corpus of real configuration files."""
    if not CORPUS.is_dir():
        pytest.skip("the shared corpus is not available")
    return CORPUS
