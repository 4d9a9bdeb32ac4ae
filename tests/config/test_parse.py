"""Safe parsing: syntax errors, tabs, non-mappings, encodings, size, aliases, duplicate keys."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from buildcensus.config import MAX_CONFIG_BYTES, parse_bytes, resolve_text
from buildcensus.errors import ConfigError


@pytest.mark.parametrize(
    ("data", "message_id", "words"),
    [
        (b"", "config:base:invalid-syntax", "mapping"),
        (b"# only a comment\n", "config:base:invalid-syntax", "mapping"),
        (b"{}", "config:base:invalid-syntax", "empty"),
        (b"- a\n- b\n", "config:base:invalid-syntax", "mapping"),
        (b"just text", "config:base:invalid-syntax", "mapping"),
        (b"version: 2\nbuild:\n\tos: ubuntu-24.04\n", "config:base:invalid-syntax", "tab"),
        (b"version: 2\n  build: [\n", "config:base:invalid-syntax", "line"),
        (b"a: 1\n---\nb: 2\n", "config:base:invalid-syntax", "YAML"),
        (b"a: !!python/object:os.system x\n", "config:base:invalid-syntax", "YAML"),
        (b"a: !custom x\n", "config:base:invalid-syntax", "YAML"),
        (b"? [a]\n: 1\n", "config:base:invalid-syntax", "YAML"),
        (b"a: \x00\n", "config:base:invalid-syntax", "YAML"),
        (b"a: &x [*x]\n", "config:base:invalid-syntax", "recursive"),
        (b"version: 2\xff\n", "config:base:invalid-encoding", "UTF-8"),
        (b"a: " + b"[" * 5000 + b"]" * 5000, "config:base:invalid-syntax", "YAML"),
        (b"a: x\n" + b"#" * MAX_CONFIG_BYTES, "config:base:too-large", "limit"),
    ],
)
def test_parse_errors(data: bytes, message_id: str, words: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_bytes(data)
    assert info.value.message_id == message_id
    assert words.lower() in info.value.message.lower()
    assert "\n" not in str(info.value)


def test_alias_bomb_is_bounded() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 8):
        prev = f"*a{i - 1}"
        lines.append(f"a{i}: &a{i} [{', '.join([prev] * 10)}]")
    with pytest.raises(ConfigError) as info:
        parse_bytes("\n".join(lines).encode())
    assert info.value.message_id == "config:base:invalid-syntax"


def test_duplicate_keys_last_wins_with_warning() -> None:
    parsed = parse_bytes(b"sphinx:\n  builder: html\nversion: 2\nsphinx:\n  builder: dirhtml\n")
    assert parsed.data == {"sphinx": {"builder": "dirhtml"}, "version": 2}
    assert parsed.warnings == ["duplicate key 'sphinx' at line 4: the last value wins"]


def test_merge_keys_are_not_duplicates() -> None:
    parsed = parse_bytes(b"base: &b {x: 1}\nother:\n  <<: *b\n  x: 2\n")
    assert parsed.data["other"] == {"x": 2}
    assert parsed.warnings == []


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"version: 2\r\nbuild:\r\n  os: x\r\n", {"version": 2, "build": {"os": "x"}}),
        (b"\xef\xbb\xbfversion: '2'\n", {"version": "2"}),
        (b"---\nversion: 2\n...\n", {"version": 2}),
        (b"python: 3.10\non: yes\n", {"python": 3.1, True: True}),
    ],
)
def test_parse_like_pyyaml_safe_load(data: bytes, expected: dict) -> None:
    parsed = parse_bytes(data)
    assert parsed.data == expected
    assert parsed.raw == data.decode("utf-8")


def test_raw_text_is_kept_as_written() -> None:
    text = "version: 2  # keep me\r\nbuild:\r\n  os: ubuntu-24.04\r\n  commands: [make]\r\n"
    result = resolve_text(text.encode())
    assert result.user_raw == text
    assert result.final is not None and result.final["build"]["commands"] == ["make"]


_yaml_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-20, 20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["2", "all", "pdf", "ubuntu-24.04", "3.12", "docs/conf.py", "", "/", "."]),
    st.text(max_size=8),
)
_keys = st.sampled_from(
    [
        "version",
        "formats",
        "build",
        "os",
        "tools",
        "python",
        "jobs",
        "commands",
        "install",
        "requirements",
        "path",
        "method",
        "conda",
        "environment",
        "sphinx",
        "mkdocs",
        "configuration",
        "submodules",
        "include",
        "exclude",
        "search",
        "ranking",
        "ignore",
        "apt_packages",
        "build",
        "x",
    ]
)
_values = st.recursive(
    _yaml_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_keys, inner, max_size=4),
    max_leaves=12,
)


@settings(
    max_examples=200, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
@given(st.binary(max_size=300))
def test_fuzz_bytes_only_config_errors(data: bytes) -> None:
    try:
        result = resolve_text(data)
    except ConfigError as exc:
        assert exc.message_id.count(":") >= 2
        return
    assert result.final is not None and result.final["version"] == "2"


@settings(
    max_examples=200, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
@given(st.dictionaries(_keys, _values, min_size=1, max_size=6))
def test_fuzz_structures_only_config_errors(data: dict) -> None:
    import json

    import yaml

    text = yaml.safe_dump(data, allow_unicode=True)
    try:
        result = resolve_text(text.encode("utf-8", "surrogatepass"))
    except ConfigError as exc:
        assert exc.key and exc.message_id.startswith(("config:", "build:"))
        return
    json.dumps(result.to_dict(), allow_nan=False)  # the whole result is plain JSON
    assert result.keys_set


_sections = st.sampled_from(
    ["formats", "conda", "python", "sphinx", "mkdocs", "submodules", "search", "jobs", "x"]
)


@settings(
    max_examples=200, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
@given(st.dictionaries(_sections, _values, max_size=3))
def test_fuzz_sections_of_a_valid_file(sections: dict) -> None:
    import yaml

    data: dict = {"version": 2, "build": {"os": "ubuntu-24.04", "tools": {"python": "3.12"}}}
    for name, value in sections.items():
        if name == "jobs":
            data["build"]["jobs"] = value
        else:
            data[name] = value
    try:
        result = resolve_text(yaml.safe_dump(data).encode("utf-8", "surrogatepass"))
    except ConfigError as exc:
        assert exc.key and exc.message_id.startswith("config:")
        return
    assert result.final is not None
    assert set(result.final) == {
        "version",
        "formats",
        "python",
        "conda",
        "build",
        "doctype",
        "sphinx",
        "mkdocs",
        "submodules",
        "search",
    }
