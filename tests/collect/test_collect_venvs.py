"""The collector in real virtual environments: its pip sets equal what pip itself lists."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from buildcensus.collect import CollectOptions, Runner, collect
from buildcensus.collect._pip import probe_metadata

pytestmark = pytest.mark.slow

BUILDCENSUS = [sys.executable, "-m", "buildcensus"]


def _checkout(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "checkout"
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


SPHINX_FILES = {
    ".readthedocs.yaml": (
        "version: 2\n"
        "build:\n  os: ubuntu-24.04\n  tools:\n    python: '3.12'\n"
        "  apt_packages: [dpkg, no-such-package-xyz]\n"
        "sphinx:\n  configuration: docs/conf.py\n"
        "python:\n  install:\n    - requirements: docs/requirements.txt\n"
    ),
    "docs/requirements.txt": (
        "# docs\n"
        "Sphinx>=5 ; python_version >= '3.8'\n"
        "-r theme.txt\n"
        "sphinx-copybutton \\\n    >=0.5  # continued line\n"
        "not-installed-pkg[extra1]==1.0\n"
    ),
    "docs/theme.txt": "furo --hash=sha256:" + "0" * 64 + "\n",
    "docs/conf.py": (
        "import os\n"
        "project = 'demo'\n"
        "extensions = ['sphinx.ext.autodoc']\n"
        "extensions += ['sphinx_copybutton']\n"
        "try:\n    import sphinx_design\n    extensions.append('sphinx_design')\n"
        "except ImportError:\n    pass\n"
        "html_theme = 'furo'\n"
        "open('EXECUTED', 'w').write('conf.py must never run')\n"
    ),
}


@pytest.mark.parametrize("which", ["sphinx", "mkdocs"])
def test_pip_sets_equal_pip_list(which, request, pip_list, pairs):
    venv = request.getfixturevalue(f"{which}_venv")
    result = probe_metadata(Runner(), str(venv / "bin" / "python"))
    assert pairs(result.all) == pip_list(venv)
    assert pairs(result.top_level) == pip_list(venv, "--not-required")
    assert (
        result.python
        == subprocess.run(
            [
                str(venv / "bin" / "python"),
                "-c",
                "import platform; print(platform.python_version())",
            ],
            capture_output=True,
            text=True,
        ).stdout.strip()
    )


def test_cli_collect_sphinx_build(tmp_path, sphinx_venv, pip_list, pairs):
    root = _checkout(tmp_path, SPHINX_FILES)
    started = time.monotonic()
    proc = subprocess.run(
        [
            *BUILDCENSUS,
            "collect",
            "--checkout",
            str(root),
            "--python",
            str(sphinx_venv / "bin" / "python"),
            "--project",
            "demo",
            "--version",
            "latest",
            "--build",
            "1234",
            "--build-start",
            "2026-12-01T10:00:00Z",
            "--length",
            "61.5",
            "--success",
            "--commit",
            "abc123",
            "--trigger",
            "webhook",
            "--step",
            "install=20.5",
            "--step",
            "build=30",
            "--out",
            "-",
        ],
        capture_output=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == b""  # diagnostics only with --verbose
    lines = proc.stdout.decode().splitlines()
    assert len(lines) == 1  # the record and nothing else, one line (pipes into `store -`)
    rec = json.loads(lines[0])
    assert time.monotonic() - started < 60
    assert rec["project"]["slug"] == "demo" and rec["build"]["id"] == 1234
    assert rec["build"]["start"].startswith("2026-12-01T10:00:00")
    assert rec["build"]["success"] is True and rec["build"]["trigger"] == "webhook"
    assert rec["build"]["steps"] == [
        {"name": "install", "seconds": 20.5},
        {"name": "build", "seconds": 30.0},
    ]
    pip = rec["packages"]["pip"]
    assert pairs(pip["all"]) == pip_list(sphinx_venv)
    assert pairs(pip["top_level"]) == pip_list(sphinx_venv, "--not-required")
    installed = dict(pairs(pip["all"]))
    user = {u["normalized"]: u for u in pip["user"]}
    assert list(user) == ["sphinx", "furo", "sphinx-copybutton", "not-installed-pkg"]
    assert user["sphinx"]["specifier"] == ">=5"
    assert user["sphinx"]["marker"] == 'python_version >= "3.8"'
    assert user["sphinx"]["installed"] == installed["sphinx"]
    assert user["sphinx"]["source"] == "docs/requirements.txt:2"
    assert user["furo"]["source"] == "docs/theme.txt:1"
    assert user["sphinx-copybutton"]["specifier"] == ">=0.5"
    assert user["not-installed-pkg"]["installed"] is None
    assert user["not-installed-pkg"]["extras"] == ["extra1"]
    assert rec["doctool"]["name"] == "sphinx"
    assert rec["doctool"]["extensions"] == [
        "sphinx.ext.autodoc",
        "sphinx_copybutton",
        "sphinx_design",
    ]
    assert rec["doctool"]["theme"] == "furo"
    assert rec["doctool"]["builder"] == "html"
    assert not (root / "docs" / "EXECUTED").exists() and not (tmp_path / "EXECUTED").exists()
    assert rec["python"] == rec["tools"]["python"]
    assert rec["python"].count(".") == 2
    assert rec["config"]["user"]["version"] == 2
    assert rec["config"]["user_raw"] == SPHINX_FILES[".readthedocs.yaml"]
    assert rec["config"]["path"] == ".readthedocs.yaml"
    apt_user = {a["name"]: a["version"] for a in rec["packages"]["apt"]["user"]}
    if rec["packages"]["apt"]["all"]:  # a Debian-family machine
        assert apt_user["dpkg"] and apt_user["no-such-package-xyz"] is None
    assert rec["collector"]["seconds"] > 0
    assert {e["probe"] for e in rec["errors"]} <= {"doctool", "apt", "os", "config"}


def test_collect_mkdocs_build(tmp_path, mkdocs_venv, pip_list, pairs):
    root = _checkout(
        tmp_path,
        {
            ".readthedocs.yml": (
                "version: 2\nbuild:\n  os: ubuntu-24.04\n  tools:\n    python: '3.12'\n"
                "mkdocs:\n  configuration: docs/mkdocs.yml\n"
            ),
            "docs/mkdocs.yml": (
                "site_name: demo\n"
                "theme:\n  name: material\n  custom_dir: overrides\n"
                "plugins:\n  - search\n  - social:\n      enabled: !ENV [CI, false]\n"
                "markdown_extensions:\n  - admonition\n  - pymdownx.emoji:\n"
                "      emoji_index: !!python/name:material.extensions.emoji.twemoji\n"
            ),
            "conf.py": "extensions = ['not-this-one']\n",
        },
    )
    opts = CollectOptions(
        checkout=root,
        project="demo",
        version="v1.0",
        build_id="gh-77",
        python=str(mkdocs_venv / "bin" / "python"),
    )
    rec = collect(opts).record
    assert pairs(rec.packages.pip.all) == pip_list(mkdocs_venv)
    assert pairs(rec.packages.pip.top_level) == pip_list(mkdocs_venv, "--not-required")
    assert rec.doctool.name == "mkdocs"
    assert rec.doctool.theme == "material"
    assert rec.doctool.plugins == ["search", "social"]
    assert rec.doctool.markdown_extensions == ["admonition", "pymdownx.emoji"]
    assert rec.build.id == "gh-77"


def test_fallback_to_pip_list(tmp_path, sphinx_venv, pip_list, pairs):
    """An interpreter that cannot run the probe: `pip list` next to it answers instead."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    shim = bindir / "python"
    shim.write_text("#!/bin/sh\necho 'no metadata here' >&2\nexit 1\n")
    shim.chmod(0o755)
    os.symlink(sphinx_venv / "bin" / "pip", bindir / "pip")
    opts = CollectOptions(
        checkout=tmp_path, project="demo", version="latest", build_id=1, python=str(shim)
    )
    rec = collect(opts).record
    assert pairs(rec.packages.pip.all) == pip_list(sphinx_venv)
    assert pairs(rec.packages.pip.top_level) == pip_list(sphinx_venv, "--not-required")
    messages = [e.message for e in rec.errors if e.probe == "pip"]
    assert any("metadata probe" in m and "exit status 1" in m for m in messages)
