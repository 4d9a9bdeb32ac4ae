from __future__ import annotations

import pytest

from buildcensus.errors import RecordError
from buildcensus.record import parse_record, parse_record_json, record_json_schema


def test_current_shape_normalizes_names(record_dict):
    rec = parse_record(record_dict)
    assert rec.packages.pip.all[0].normalized == "sphinx"
    assert rec.packages.pip.user[0].specifier == ">=7,<8"
    assert rec.build.start.tzinfo is not None


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Sphinx", "sphinx"),
        ("sphinx_rtd_theme", "sphinx-rtd-theme"),
        ("Foo.Bar__baz", "foo-bar-baz"),
    ],
)
def test_pep503_normalization(record_dict, name, expected):
    record_dict["packages"]["pip"]["all"] = [{"name": name, "version": "1"}]
    assert parse_record(record_dict).packages.pip.all[0].normalized == expected


@pytest.mark.parametrize(
    ("path", "value", "error_path"),
    [
        (("project", "slug"), "../etc", "project.slug"),
        (("project", "slug"), "Upper", "project.slug"),
        (("version", "slug"), "a..b", "version.slug"),
        (("version", "slug"), "/abs", "version.slug"),
        (("build", "id"), "a/b", "build.id"),
        (("build", "id"), "x\x00y", "build.id"),
        (("build", "trigger"), "cron", "build.trigger"),
        (("build", "start"), "yesterday", "build.start"),
        (("build", "length"), -1, "build.length"),
    ],
)
def test_invalid_fields_name_the_path(record_dict, path, value, error_path):
    target = record_dict
    for p in path[:-1]:
        target = target[p]
    target[path[-1]] = value
    with pytest.raises(RecordError) as exc:
        parse_record(record_dict)
    assert exc.value.path == error_path


def test_unknown_field_rejected(record_dict):
    record_dict["build"]["colour"] = "red"
    with pytest.raises(RecordError, match=r"build\.colour: unknown field"):
        parse_record(record_dict)


def test_unknown_schema_version(record_dict):
    record_dict["schema_version"] = 99
    with pytest.raises(RecordError, match="unknown schema version"):
        parse_record(record_dict)


@pytest.mark.parametrize("text", ["{", "[1,2", "nul", '{"a": }'])
def test_malformed_json(text):
    with pytest.raises(RecordError, match="malformed JSON"):
        parse_record_json(text)


def test_not_an_object():
    with pytest.raises(RecordError, match="must be a JSON object"):
        parse_record([1, 2])


def _nested_dicts(levels: int) -> dict:
    """`{"x": {"x": ...}}`, `levels` objects deep."""
    deep: dict = {}
    cur = deep
    for _ in range(levels):
        cur["x"] = {}
        cur = cur["x"]
    return deep


def test_deeply_nested_payload_is_rejected(record_dict):
    record_dict["config"]["user"] = _nested_dicts(5000)
    with pytest.raises(RecordError, match="nested deeper"):
        parse_record(record_dict)


def test_rtd_build_data_shape():
    legacy = {
        "project": {"id": 7, "slug": "pip"},
        "version": {"id": 8, "slug": "stable"},
        "build": {
            "id": 99,
            "start": "2023-03-01T20:47:52Z",
            "length": 55,
            "success": True,
            "commit": "70ff6770",
        },
        "config": {"user": {"version": 2}, "final": {"version": "2", "formats": []}},
        "os": "ubuntu-22.04",
        "python": "3.11.4",
        "packages": {
            "pip": {
                "user": [{"name": "sphinx", "version": "5.3.0"}],
                "all": [{"name": "Sphinx", "version": "5.3.0"}],
            },
            "conda": {"all": {}},
            "apt": {"user": [{"name": "graphviz", "version": "2.42"}], "all": []},
        },
        "doctool": {"name": "sphinx", "extensions": ["myst_parser"], "html_theme": "furo"},
    }
    rec = parse_record(legacy)
    assert rec.config.version == "2"
    assert rec.packages.pip.user[0].specifier == "==5.3.0"
    assert rec.packages.pip.all[0].normalized == "sphinx"
    assert rec.doctool.theme == "furo"
    assert rec.packages.apt.user[0].name == "graphviz"


def test_flat_draft_shape():
    draft = {
        "project": "my-proj",
        "version": "latest",
        "build": 5,
        "date": "2022-05-05T10:00:00",
        "trigger": "webhook",
        "python": "3.8.10",
        "user_config": {"version": 2},
        "final_config": {"version": 2},
        "packages": {"pip": ["sphinx==4.5.0", {"name": "docutils", "version": "0.17"}]},
    }
    rec = parse_record(draft)
    assert rec.project.slug == "my-proj"
    assert rec.build.id == 5
    assert [p.normalized for p in rec.packages.pip.all] == ["sphinx", "docutils"]
    assert rec.packages.pip.all[0].version == "4.5.0"
    assert rec.config.version == "2"


def test_flat_draft_bad_package_names_path():
    draft = {
        "project": "p",
        "version": "v",
        "build": 1,
        "date": "2022-05-05",
        "packages": {"pip": [3]},
    }
    with pytest.raises(RecordError) as exc:
        parse_record(draft)
    assert exc.value.path == "packages.pip.0"


def test_schema_is_published():
    schema = record_json_schema()
    assert schema["title"] == "buildcensus build record"
    assert "schema_version" in schema["properties"]
    assert set(schema["$defs"]["Build"]["properties"]["trigger"]["enum"]) == {
        "api",
        "manual",
        "webhook",
        "automation_rule",
        "pull_request",
        "other",
    }


def test_depth_walk_can_be_left_to_the_caller(record_dict):
    deep = _nested_dicts(70)
    record_dict["config"]["user"] = deep
    with pytest.raises(RecordError, match="nested deeper"):
        parse_record(record_dict)
    assert parse_record(record_dict, check_depth=False).config.user == deep


def test_given_normalized_names_are_kept(record_dict):
    record_dict["packages"]["pip"]["all"] = [
        {"name": "Foo_Bar", "version": "1", "normalized": "custom"},
        {"name": "Foo_Bar", "version": "1"},
    ]
    pkgs = parse_record(record_dict).packages.pip.all
    assert [p.normalized for p in pkgs] == ["custom", "foo-bar"]
    assert "normalized" in pkgs[1].model_fields_set
