"""mkdocs.yml over real files (with a careful human reading of each in EXPECTED.jsonl)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from buildcensus.collect import read_mkdocs

CORPUS_DIR = Path(
    os.environ.get("BUILDCENSUS_CORPUS")
    or Path(__file__).resolve().parents[3] / "shared" / "corpus"
)

EXPECTED = CORPUS_DIR / "mkdocs" / "EXPECTED.jsonl"
ROWS = (
    [json.loads(line) for line in EXPECTED.read_text().splitlines() if line.strip()]
    if EXPECTED.is_file()
    else []
)


@pytest.mark.skipif(not ROWS, reason="corpus not available")
@pytest.mark.parametrize("row", ROWS, ids=[f"{r['dir']}/{r['path']}" for r in ROWS])
def test_corpus_file_matches_human_reading(row):
    base = CORPUS_DIR / "mkdocs" / row["dir"]
    got = read_mkdocs(base / row["path"], root=base)
    assert got.theme == row["theme"]
    assert got.plugins == row["plugins"]
    assert got.markdown_extensions == row["markdown_extensions"]


def test_tags_are_opaque_and_never_run(tmp_path):
    marker = tmp_path / "ran"
    (tmp_path / "mkdocs.yml").write_text(
        "site_name: x\n"
        f"evil: !!python/object/apply:os.system ['touch {marker}']\n"
        "docs_dir: !relative $config_dir/docs\n"
        "theme: !ENV [THEME_NAME, readthedocs]\n"
        "plugins:\n  - search\n  - mkdocstrings:\n      handlers: !!python/name:builtins.dict\n"
        "markdown_extensions: {toc: {permalink: true}, attr_list: null}\n"
    )
    got = read_mkdocs(tmp_path / "mkdocs.yml")
    assert not marker.exists()
    assert (got.theme, got.plugins, got.markdown_extensions) == (
        "readthedocs",
        ["search", "mkdocstrings"],
        ["toc", "attr_list"],
    )


def test_inherit_and_duplicate_keys(tmp_path):
    (tmp_path / "base.yml").write_text(
        "theme:\n  name: material\n  palette: {scheme: slate}\nplugins: [search, tags]\n"
    )
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "mkdocs.yml").write_text(
        "INHERIT: ../base.yml\ntheme:\n  custom_dir: overrides\n"
        "plugins: [search]\nplugins: [blog]\n"
    )
    got = read_mkdocs(tmp_path / "sub" / "mkdocs.yml", root=tmp_path)
    assert (got.theme, got.plugins) == ("material", ["blog"])


def test_problems_are_reported(tmp_path):
    (tmp_path / "mkdocs.yml").write_text("theme: [unclosed\n")
    assert "invalid YAML" in read_mkdocs(tmp_path / "mkdocs.yml").problems[0]
    (tmp_path / "m2.yml").write_text("theme:\n  custom_dir: x\n")
    got = read_mkdocs(tmp_path / "m2.yml")
    assert got.theme is None and "no name" in got.problems[0]
    assert "no such file" in read_mkdocs(tmp_path / "absent.yml").problems[0]
    (tmp_path / "m3.yml").write_text("INHERIT: ../../../etc/passwd\n")
    assert "outside the checkout" in read_mkdocs(tmp_path / "m3.yml", root=tmp_path).problems[0]
