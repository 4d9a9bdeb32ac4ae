"""conda, dpkg, os-release and config probes against real files and this machine's tools."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from buildcensus.collect import CollectOptions, Runner, collect
from buildcensus.collect._conda import parse_match_spec, read_conda_meta, read_environment
from buildcensus.collect._system import parse_dpkg, parse_os_release, probe_dpkg, probe_os


def test_conda_meta_records(tmp_path):
    meta = tmp_path / "env" / "conda-meta"
    meta.mkdir(parents=True)
    records = [
        {
            "name": "python",
            "version": "3.12.7",
            "build": "h2628c8c_0_cpython",
            "channel": "https://conda.anaconda.org/conda-forge/linux-64",
            "files": ["bin/python"],
        },
        {
            "name": "sphinx",
            "version": "7.4.7",
            "build_string": "pyhd8ed1ab_0",
            "channel": "https://conda.anaconda.org/conda-forge/noarch",
        },
        {
            "name": "libzlib",
            "version": "1.3.1",
            "build": "hb9d3cd8_2",
            "channel": "https://repo.anaconda.com/pkgs/main/linux-64",
        },
    ]
    for r in records:
        (meta / f"{r['name']}-{r['version']}-x.json").write_text(json.dumps(r))
    (meta / "history").write_text("not a record")
    (meta / "broken-1-0.json").write_text("{not json")
    got = read_conda_meta(tmp_path / "env", 10**7)
    assert [(p["name"], p["version"], p["channel"], p["build"]) for p in got] == [
        ("libzlib", "1.3.1", "pkgs/main", "hb9d3cd8_2"),
        ("python", "3.12.7", "conda-forge", "h2628c8c_0_cpython"),
        ("sphinx", "7.4.7", "conda-forge", "pyhd8ed1ab_0"),
    ]
    # python's version comes from the conda package list in a conda build
    rec = collect(
        CollectOptions(
            checkout=tmp_path,
            project="p",
            version="v",
            build_id=1,
            conda_prefix=str(tmp_path / "env"),
            python=sys.executable,
            timeout=20,
        )
    ).record
    assert rec.python == "3.12.7" and rec.tools["python"] == "3.12.7"
    assert len(rec.packages.conda.all) == 3


@pytest.mark.parametrize(
    ("spec", "name", "specifier", "channel"),
    [
        ("python=3.11", "python", "=3.11", None),
        ("conda-forge::numpy>=1.2,<2", "numpy", ">=1.2,<2", "conda-forge"),
        ("numpy 1.11   py36_0", "numpy", "1.11 py36_0", None),
        ("r-data.table=1.14.2", "r-data.table", "=1.14.2", None),
    ],
)
def test_match_specs(spec, name, specifier, channel):
    assert parse_match_spec(spec) == {
        "name": name,
        "specifier": specifier,
        "channel": channel,
        "pip": False,
    }


def test_corpus_environment_files(corpus):
    root = corpus / "configs" / "2i2c-org__infrastructure"
    env = read_environment(root / "docs" / "environment.yml", root)
    names = [(r["name"], r["pip"]) for r in env.requirements]
    assert ("python", False) in names and ("myst-parser", True) in names
    assert ("sphinx-2i2c-theme", True) in names  # a git URL in the pip: section
    lgbm = corpus / "configs" / "microsoft__LightGBM"
    env = read_environment(lgbm / "docs" / "env.yml", lgbm)
    assert {"name": "sphinx_rtd_theme", "specifier": ">=0.5", "channel": None, "pip": False} in (
        env.requirements
    )


def test_dpkg_parsing():
    out = b"libc6:amd64\t2.36-9\tii \nrc-only\t1.0\trc \nbash\t5.2.15-2\tii \n"
    assert parse_dpkg(out) == [
        {"name": "bash", "version": "5.2.15-2"},
        {"name": "libc6:amd64", "version": "2.36-9"},
    ]


@pytest.mark.skipif(not shutil.which("dpkg-query"), reason="not a Debian-family machine")
def test_dpkg_on_this_machine():
    got = probe_dpkg(Runner())
    plain = subprocess.run(
        ["dpkg-query", "-W", "-f", "${binary:Package} ${db:Status-Abbrev}\n"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    installed = {line.split()[0] for line in plain if line.split()[1][1] == "i"}
    assert {p["name"] for p in got} == installed


def test_os_release():
    text = 'PRETTY_NAME="Ubuntu 24.04.1 LTS"\nID=ubuntu\nVERSION_ID="24.04"\n'
    assert parse_os_release(text) == "ubuntu-24.04"
    assert parse_os_release('PRETTY_NAME="Arch Linux"\nID=arch\n') == "Arch Linux"
    if Path("/etc/os-release").is_file():
        assert probe_os(Runner()) == parse_os_release(Path("/etc/os-release").read_text())


def test_invalid_config_keeps_what_the_user_wrote(tmp_path):
    raw = "version: 2\nbuild:\n  os: ubuntu-12.04\npython:\n  install:\n    - requirements: r.txt\n"
    (tmp_path / ".readthedocs.yaml").write_text(raw)
    (tmp_path / "r.txt").write_text("sphinx==1.8.5\n")
    rec = collect(
        CollectOptions(checkout=tmp_path, project="p", version="v", build_id=1, timeout=20)
    ).record
    assert rec.config.user_raw == raw
    assert rec.config.user["build"]["os"] == "ubuntu-12.04"
    assert rec.config.final is None
    assert any(e.probe == "config" and "build.os" in e.message for e in rec.errors)
    # requirement files are still found from what the user wrote
    assert [(r.name, r.specifier) for r in rec.packages.pip.user] == [("sphinx", "==1.8.5")]


def test_config_module_unavailable(tmp_path, monkeypatch):
    (tmp_path / ".readthedocs.yml").write_text("version: 2\nmkdocs: {}\n")
    (tmp_path / "mkdocs.yml").write_text("theme: readthedocs\n")
    monkeypatch.setitem(sys.modules, "buildcensus.config", None)  # import now fails
    rec = collect(
        CollectOptions(checkout=tmp_path, project="p", version="v", build_id=1, timeout=20)
    ).record
    assert any(e.probe == "config" and "unavailable" in e.message for e in rec.errors)
    assert rec.config.user == {"version": 2, "mkdocs": {}}
    assert rec.doctool.name == "mkdocs" and rec.doctool.theme == "readthedocs"
