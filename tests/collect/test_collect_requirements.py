"""Requirement files: pip's line rules, parsed with `packaging`, over real corpus files."""

from __future__ import annotations

from pathlib import Path

import pytest
from packaging.requirements import Requirement

from buildcensus.collect import parse_requirements_file, parse_requirements_text
from buildcensus.collect._requirements import logical_lines


def _files(corpus: Path) -> list[Path]:
    out = []
    for path in sorted((corpus / "configs").rglob("*")):
        if path.is_file() and (path.suffix in (".txt", ".pip", ".in")):
            out.append(path)
    return out


def _repo(corpus: Path, path: Path) -> Path:
    return corpus / "configs" / path.relative_to(corpus / "configs").parts[0]


def test_every_corpus_requirements_file_parses(corpus):
    files = _files(corpus)
    assert len(files) > 60
    total = 0
    for path in files:
        parsed = parse_requirements_file(path, _repo(corpus, path))
        total += len(parsed.requirements)
        for req in parsed.requirements:
            assert req["name"] and req["source"].split(":")[0]
            if req["url"] is None and not req["editable"]:
                # a plain line: exactly what `packaging` makes of it
                line = req["source"].rsplit(":", 1)[1]
                assert int(line) >= 1
    assert total > 600


def test_plain_lines_match_packaging(corpus):
    """For every plain requirement line, name/specifier/marker/extras are packaging's own."""
    checked = 0
    for path in _files(corpus):
        text = path.read_bytes().decode("utf-8-sig", "replace")
        expected = {}
        for number, line in logical_lines(text):
            if line.startswith(("-", ".")) or "://" in line:
                continue
            head = line.split(" --", 1)[0].strip()
            try:
                req = Requirement(head)
            except Exception:
                continue
            expected[number] = req
        parsed = parse_requirements_file(path, _repo(corpus, path))
        rel = str(path.relative_to(_repo(corpus, path)))
        for r in parsed.requirements:
            file, _, number = r["source"].rpartition(":")
            if file == rel and int(number) in expected and r["url"] is None:
                req = expected[int(number)]
                assert r["name"] == req.name
                assert r["specifier"] == str(req.specifier)
                assert r["extras"] == sorted(req.extras)
                assert r["marker"] == (str(req.marker) if req.marker else None)
                checked += 1
    assert checked > 500


def test_corpus_specifics(corpus):
    ceph = corpus / "configs" / "ceph__ceph"
    parsed = parse_requirements_file(ceph / "admin" / "doc-requirements.txt", ceph)
    by_name = {r["name"]: r for r in parsed.requirements}
    assert by_name["sphinx-ditaa"]["editable"] is True
    assert by_name["sphinx-ditaa"]["url"].startswith("git+https://github.com/ceph/sphinx-ditaa")
    aio = corpus / "configs" / "aio-libs__aiohttp"
    parsed = parse_requirements_file(aio / "requirements" / "doc.txt", aio)
    by_name = {r["name"]: r for r in parsed.requirements}
    assert by_name["sphinx"]["specifier"] == "==7.1.2"  # `# via` comment lines ignored
    trio = corpus / "configs" / "python-trio__trio"
    parsed = parse_requirements_file(trio / "docs-requirements.txt", trio)
    by_name = {r["name"]: r for r in parsed.requirements}
    assert by_name["colorama"]["marker"] == 'sys_platform == "win32"'
    celery = corpus / "configs" / "celery__celery"
    parsed = parse_requirements_file(celery / "requirements" / "docs.txt", celery)
    assert any("test.txt: no such file" in p for p in parsed.problems)  # missing include


CASES = [
    ("Sphinx>=5,<8", {"name": "Sphinx", "specifier": "<8,>=5"}),
    ("requests[socks, security] ==2.31", {"extras": ["security", "socks"], "specifier": "==2.31"}),
    ("furo ; python_version >= '3.8'", {"marker": 'python_version >= "3.8"'}),
    (
        "pkg @ https://example.org/pkg-1.0.tar.gz",
        {"name": "pkg", "url": "https://example.org/pkg-1.0.tar.gz"},
    ),
    (
        "-e git+https://github.com/org/sphinx-thing.git@main#egg=sphinx_thing",
        {"name": "sphinx_thing", "editable": True},
    ),
    ("git+https://github.com/org/my-theme.git@v1", {"name": "my-theme", "editable": False}),
    ("https://example.org/dist/Foo_Bar-2.0-py3-none-any.whl", {"name": "Foo_Bar"}),
    ("./vendor/pkg-1.2.tar.gz", {"name": "pkg"}),
    (
        "numpy==1.26.4 --hash=sha256:abc --hash=sha256:def",
        {"name": "numpy", "specifier": "==1.26.4"},
    ),
    ("docutils<0.18  # pinned, see issue", {"specifier": "<0.18"}),
    ("--index-url https://example.org/simple", None),
    ("--extra-index-url=https://example.org/simple", None),
    ("--pre", None),
    ("sphinx_rtd_theme=1.0.0", {"name": "sphinx_rtd_theme", "specifier": "=1.0.0"}),
]


@pytest.mark.parametrize(("line", "expected"), CASES)
def test_line_forms(tmp_path, line, expected):
    parsed = parse_requirements_text(line + "\n", tmp_path)
    if expected is None:
        assert parsed.requirements == [] and parsed.problems == []
        return
    assert len(parsed.requirements) == 1, parsed.problems
    req = parsed.requirements[0]
    for key, value in expected.items():
        assert req[key] == value, (key, req)


def test_includes_constraints_continuations(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "base.txt").write_text("sphinx>=7\n-r base.txt\n")  # a loop
    (tmp_path / "docs" / "pins.txt").write_text("sphinx==7.2.6\n")
    (tmp_path / "docs" / "requirements.txt").write_text(
        "-r base.txt\n"
        "--constraint pins.txt\n"
        "myst-parser \\\n"
        "  >=2.0 \\\n"
        "  --hash=sha256:00\n"
        "# a comment\n"
        "   \n"
        "Dependencies required to build docs:\n"
        "-r missing.txt\n"
        "--frobnicate\n"
    )
    parsed = parse_requirements_file(tmp_path / "docs" / "requirements.txt", tmp_path)
    assert [(r["name"], r["specifier"], r["source"]) for r in parsed.requirements] == [
        ("sphinx", ">=7", "docs/base.txt:1"),
        ("myst-parser", ">=2.0", "docs/requirements.txt:3"),
    ]
    assert [c["specifier"] for c in parsed.constraints] == ["==7.2.6"]
    assert parsed.files == ["docs/requirements.txt", "docs/base.txt", "docs/pins.txt"]
    problems = " | ".join(parsed.problems)
    assert "docs/requirements.txt:8: invalid requirement" in problems
    assert "missing.txt: no such file" in problems
    assert "unknown option '--frobnicate'" in problems


def test_local_project_name(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "my-project"\n')
    parsed = parse_requirements_text("-e .[docs]\n", tmp_path)
    req = parsed.requirements[0]
    assert (req["name"], req["extras"], req["editable"], req["url"]) == (
        "my-project",
        ["docs"],
        True,
        ".",
    )
