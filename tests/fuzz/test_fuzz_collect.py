"""Fuzzing the collector's readers and output parsers: any input yields a value or the
project's own error (ProbeFailure), never a crash, and never a read outside the checkout."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from buildcensus.collect._conda import parse_environment, parse_match_spec
from buildcensus.collect._mkdocs import read_mkdocs
from buildcensus.collect._pip import parse_pip_list, parse_probe_output
from buildcensus.collect._requirements import parse_requirements_text
from buildcensus.collect._run import ProbeFailure
from buildcensus.collect._sphinx import read_conf_source
from buildcensus.collect._system import parse_dpkg, parse_os_release, parse_python_version

FUZZ = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
req_line = st.one_of(
    st.text(max_size=60),
    st.sampled_from(
        [
            "-r ",
            "-c ",
            "-e ",
            "--hash=sha256:",
            "# ",
            "git+https://",
            "\\\n",
            "[",
            ";",
            "==",
            ">=",
            "@ file:///",
            "-r ../../../../etc/passwd",
        ]
    ),
)
yaml_text = st.one_of(
    st.text(max_size=300),
    st.lists(
        st.sampled_from(
            [
                "theme:",
                "  name: material",
                "plugins:",
                "  - search",
                "- !!python/name:x.y",
                "markdown_extensions:",
                "!ENV X",
                "INHERIT: ../../../etc/passwd",
                "{{",
                "  - toc:",
                "    permalink: true",
                "\t",
                "&a [*a]",
            ]
        ),
        max_size=12,
    ).map("\n".join),
)
conf_src = st.one_of(
    st.binary(max_size=300),
    st.lists(
        st.sampled_from(
            [
                "extensions = [",
                "'sphinx.ext.autodoc',",
                "]",
                "extensions += ['x']",
                "extensions.append('y')",
                "html_theme = 'furo'",
                "if x:",
                "    html_theme = 'a'",
                "import sphinx_rtd_theme",
                "from x import *",
                "exec('1')",
                "html_theme = f'{x}'",
                "extensions = list(set(a) | {'b'})",
            ]
        ),
        max_size=12,
    ).map(lambda lines: "\n".join(lines).encode()),
)


@FUZZ
@given(st.lists(req_line, max_size=10).map("\n".join))
def test_requirements_text(tmp_path, text):
    parsed = parse_requirements_text(text, tmp_path)
    for req in parsed.requirements:
        assert isinstance(req["name"], str)
    assert all("/etc/" not in f for f in parsed.files)


@FUZZ
@given(yaml_text)
def test_mkdocs_reader(tmp_path, text):
    path = tmp_path / "mkdocs.yml"
    path.write_text(text)
    try:
        settings_ = read_mkdocs(path, root=tmp_path)
    except ProbeFailure:
        return
    assert settings_.theme is None or isinstance(settings_.theme, str)
    assert all(isinstance(p, str) for p in settings_.plugins)


@FUZZ
@given(conf_src)
def test_conf_py_reader(source):
    result = read_conf_source(source)
    assert all(isinstance(e, str) for e in result.extensions)


@FUZZ
@given(st.binary(max_size=400))
def test_output_parsers(data):
    parsers = (
        parse_pip_list,
        parse_probe_output,
        parse_dpkg,
        parse_python_version,
        lambda b: parse_os_release(b.decode("utf-8", "replace")),
    )
    for parse in parsers:
        try:
            parse(data)
        except ProbeFailure as exc:
            assert str(exc)


@FUZZ
@given(
    st.lists(
        st.dictionaries(
            st.sampled_from(["name", "version", "x"]),
            st.one_of(st.text(max_size=10), st.integers(), st.none()),
        ),
        max_size=5,
    )
)
def test_pip_list_json_shapes(items):
    try:
        out = parse_pip_list(json.dumps(items).encode())
    except ProbeFailure:
        return
    assert all(isinstance(p["name"], str) for p in out)


@FUZZ
@given(st.one_of(st.text(max_size=200), yaml_text))
def test_conda_environment(tmp_path, text):
    env = parse_environment(text, tmp_path / "environment.yml", tmp_path)
    assert isinstance(env.requirements, list)
    for spec in text.splitlines()[:5]:
        parse_match_spec(spec)


def test_includes_outside_the_checkout_are_not_read(tmp_path: Path):
    secret = tmp_path / "secret.txt"
    secret.write_text("top-secret-package==1.0\n")
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    (checkout / "link.txt").symlink_to(secret)
    text = f"-r {secret}\n-r ../secret.txt\n-r link.txt\nsphinx\n"
    parsed = parse_requirements_text(text, checkout)
    assert [r["name"] for r in parsed.requirements] == ["sphinx"]
    assert "top-secret" not in repr(parsed)
    assert any("outside the checkout" in p for p in parsed.problems)
