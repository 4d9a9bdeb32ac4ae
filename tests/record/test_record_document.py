"""`parse_record_document` (the ingest service's validator) against `parse_record`: the same
records accepted, the same documents returned, the same errors (message and path)."""

from __future__ import annotations

import copy
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from buildcensus.errors import RecordError
from buildcensus.record import parse_record, parse_record_document


def outcome(fn: Any, value: Any) -> tuple[str, Any]:
    """What a parser makes of a value: ("ok", JSON document), ("error", (message, path)), or
    any other exception it lets through (as both do for a start date near year 1 whose move
    to UTC overflows)."""
    try:
        result = fn(copy.deepcopy(value))
    except RecordError as exc:
        return ("error", (exc.message, exc.path))
    except Exception as exc:  # noqa: BLE001 - compared, not hidden
        return ("raised", (type(exc).__name__, str(exc)))
    if not isinstance(result, dict):
        result = result.to_json_dict()
    return ("ok", result)


def assert_agree(value: Any) -> tuple[str, Any]:
    slow = outcome(parse_record, value)
    fast = outcome(parse_record_document, value)
    assert fast == slow
    if slow[0] == "ok":  # the stored bytes come from this: same JSON text, key order aside
        dump = orjson.OPT_SORT_KEYS
        assert orjson.dumps(fast[1], option=dump) == orjson.dumps(slow[1], option=dump)
    return slow


def test_base_record_agrees(record_dict):
    kind, doc = assert_agree(record_dict)
    assert kind == "ok"
    assert doc["packages"]["pip"]["all"][0]["normalized"] == "sphinx"
    assert doc["build"]["start"] == "2026-12-01T10:00:00Z"


def test_defaults_are_fresh_objects():
    minimal = {
        "schema_version": 1,
        "project": {"slug": "a"},
        "version": {"slug": "b"},
        "build": {"id": 1, "start": "2026-01-01"},
    }
    a = parse_record_document(copy.deepcopy(minimal))
    b = parse_record_document(copy.deepcopy(minimal))
    assert a == parse_record(minimal).to_json_dict()
    a["packages"]["pip"]["all"].append({"name": "x"})
    assert b["packages"]["pip"]["all"] == []


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("project", "slug"), "../etc"),
        (("version", "slug"), "a..b"),
        (("build", "id"), "a/b"),
        (("build", "id"), -1),
        (("build", "trigger"), "cron"),
        (("build", "start"), "yesterday"),
        (("build", "start"), "2026-12-01T10:00:00+05:30"),
        (("build", "start"), "2026-12-01T10:00:00.123456"),
        (("build", "start"), 1764583200),
        (("build", "length"), -1),
        (("build", "length"), 30),
        (("build", "colour"), "red"),
        (("packages", "pip", "all", 0, "name"), ""),
        (("packages", "pip", "all", 0, "name"), "x" * 513),
        (("packages", "pip", "all", 0, "normalized"), "Given"),
        (("packages", "pip", "all", 1, "version"), 7),
        (("packages", "pip", "all", 1, "extra"), 7),
        (("packages", "pip", "user", 0, "extras"), ["a", ""]),
        (("packages", "conda"), {"user": [{"name": "Foo_Bar", "pip": True}]}),
        (("packages", "conda"), {"user": [{"name": "Foo_Bar"}], "all": [{"name": "NumPy"}]}),
        (("packages", "conda"), {"all": [{"name": "x", "channel": "https://u:p@h/c"}]}),
        (("packages", "apt", "user"), [{"name": "Libc6:amd64"}]),
        (("config", "user"), ["not", "a", "dict"]),
        (("config", "warnings"), ["w"] * 1001),
        (("doctool", "name"), "hugo"),
        (("errors",), [{"probe": "pip", "message": "boom"}]),
        (("errors",), [{"probe": "pip"}]),
        (("tools",), {"": "x"}),
        (("redactions",), -1),
        (("schema_version",), 2),
    ],
)
def test_edge_cases_agree(record_dict, path, value):
    record = record_dict
    target: Any = record
    for p in path[:-1]:
        target = target[p]
    target[path[-1]] = value
    assert_agree(record)


def test_legacy_shapes_agree():
    assert_agree({"project": "demo", "version": "latest", "build": 7, "date": "2026-01-02"})
    assert_agree(
        {
            "project": {"slug": "demo"},
            "version": {"slug": "latest"},
            "build": {"id": 7, "date": "2026-01-02T03:04:05Z", "trigger": "cron"},
            "packages": {"pip": {"all": ["Sphinx==7.0", "furo"]}, "conda": {"all": {}}},
        }
    )


json_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(2**63), max_value=2**63 - 1),
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(max_size=20),
    ),
    lambda c: st.one_of(
        st.lists(c, max_size=4), st.dictionaries(st.text(max_size=8), c, max_size=4)
    ),
    max_leaves=12,
)
names = st.one_of(
    st.sampled_from(["Sphinx", "sphinx_rtd_theme", "Foo.Bar__baz", "libc6:amd64", " Pad ", ""]),
    st.text(max_size=12),
)
package = st.fixed_dictionaries(
    {"name": names},
    optional={
        "version": st.one_of(st.none(), st.text(max_size=8), st.integers()),
        "normalized": st.one_of(st.none(), names),
        "specifier": st.one_of(st.text(max_size=8), st.none()),
        "extras": st.lists(names, max_size=2),
        "channel": st.one_of(st.none(), st.text(max_size=8)),
        "pip": st.one_of(st.booleans(), st.sampled_from(["yes", 0, 1, None])),
        "editable": st.booleans(),
        "build": st.text(max_size=4),
    },
)
packages = st.dictionaries(
    st.sampled_from(["pip", "conda", "apt", "npm"]),
    st.dictionaries(
        st.sampled_from(["user", "top_level", "all", "other"]),
        st.one_of(st.lists(package, max_size=4), json_values),
        max_size=3,
    ),
    max_size=3,
)
slugs = st.one_of(st.sampled_from(["demo", "a-b_c", "v1.2", "Upper", "a..b", ""]), st.text())
starts = st.one_of(
    st.sampled_from(
        [
            "2026-12-01T10:00:00Z",
            "2026-12-01T10:00:00+02:00",
            "2026-12-01T10:00:00.5-08:00",
            "2026-12-01 10:00:00",
            "2026-12-01",
            "2026-02-30T00:00:00Z",
            "0001-01-01T00:00:00+01:00",
        ]
    ),
    st.integers(min_value=-(2**40), max_value=2**40),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=25),
)
build = st.fixed_dictionaries(
    {"id": st.one_of(st.integers(min_value=-5, max_value=2**40), slugs), "start": starts},
    optional={
        "length": st.one_of(st.none(), st.floats(allow_nan=False), st.integers(-3, 10)),
        "success": st.one_of(st.none(), st.booleans(), st.sampled_from(["true", "no", 2])),
        "commit": st.one_of(st.none(), st.text(max_size=8)),
        "trigger": st.one_of(st.sampled_from(["api", "webhook", "cron"]), json_values),
        "steps": st.lists(
            st.fixed_dictionaries(
                {"name": st.text(max_size=6), "seconds": st.one_of(st.floats(), st.integers())}
            ),
            max_size=2,
        ),
        "date": st.text(max_size=5),
    },
)
records = st.fixed_dictionaries(
    {
        "project": st.one_of(st.fixed_dictionaries({"slug": slugs}), json_values),
        "version": st.one_of(st.fixed_dictionaries({"slug": slugs}), json_values),
        "build": st.one_of(build, json_values),
    },
    optional={
        "schema_version": st.one_of(st.just(1), st.just(1), st.just(1), json_values),
        "organization": st.one_of(
            st.none(), st.fixed_dictionaries({"slug": slugs, "id": json_values})
        ),
        "config": st.one_of(
            st.fixed_dictionaries(
                {},
                optional={
                    "user": json_values,
                    "user_raw": st.one_of(st.none(), st.text(max_size=10)),
                    "final": json_values,
                    "warnings": st.lists(st.text(max_size=4), max_size=2),
                    "version": json_values,
                },
            ),
            json_values,
        ),
        "packages": st.one_of(packages, json_values),
        "python": json_values,
        "tools": st.dictionaries(names, st.one_of(st.text(max_size=5), json_values), max_size=2),
        "doctool": st.one_of(
            st.fixed_dictionaries(
                {},
                optional={
                    "name": st.sampled_from(["sphinx", "mkdocs", "other", "hugo", None]),
                    "extensions": st.lists(names, max_size=2),
                    "theme": st.one_of(st.none(), names),
                },
            ),
            json_values,
        ),
        "errors": st.lists(
            st.fixed_dictionaries({"probe": st.text(max_size=5), "message": json_values}),
            max_size=2,
        ),
        "collector": st.fixed_dictionaries(
            {}, optional={"version": json_values, "seconds": json_values}
        ),
        "redactions": json_values,
        "user_config": json_values,
        "extra_field": json_values,
    },
)


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(records)
def test_fast_and_slow_validation_agree(record):
    assert_agree(record)


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_agree_on_any_json(value):
    assert_agree(value)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(package, max_size=6), st.lists(package, max_size=6))
def test_agree_on_package_lists(record_dict, pip_all, conda_user):
    record = copy.deepcopy(record_dict)
    record["packages"]["pip"]["all"] = pip_all
    record["packages"]["conda"] = {"user": conda_user, "all": pip_all}
    record["packages"]["apt"]["user"] = pip_all
    assert_agree(record)


# Mostly valid records, so that accepted documents are compared too (not only errors).
good_names = st.one_of(
    st.sampled_from(["Sphinx", "sphinx_rtd_theme", "Foo.Bar__baz", "libc6:amd64", " Pad "]),
    st.text(min_size=1, max_size=12),
)
good_package = st.fixed_dictionaries(
    {"name": good_names},
    optional={
        "version": st.one_of(st.none(), st.text(max_size=8)),
        "normalized": st.one_of(st.none(), good_names),
    },
)
good_requirement = st.fixed_dictionaries(
    {"name": good_names},
    optional={
        "specifier": st.text(max_size=8),
        "extras": st.lists(good_names, max_size=2),
        "editable": st.booleans(),
        "installed": st.one_of(st.none(), st.text(max_size=5)),
    },
)
good_conda = st.fixed_dictionaries(
    {"name": good_names},
    optional={
        "channel": st.one_of(st.none(), st.text(max_size=8), st.just("https://u:pw@x.org/c")),
        "pip": st.booleans(),
        "normalized": st.one_of(st.none(), good_names),
        "build": st.one_of(st.none(), st.text(max_size=4)),
    },
)
good_records = st.fixed_dictionaries(
    {
        "schema_version": st.just(1),
        "project": st.fixed_dictionaries(
            {"slug": st.sampled_from(["demo", "a-b_c", "x1"])},
            optional={"id": st.one_of(st.none(), st.integers(0, 10**9))},
        ),
        "version": st.fixed_dictionaries({"slug": st.sampled_from(["latest", "v1.2", "main"])}),
        "build": st.fixed_dictionaries(
            {
                "id": st.one_of(st.integers(0, 2**40), st.sampled_from(["ci-1", "A_b"])),
                "start": st.one_of(
                    st.sampled_from(
                        [
                            "2026-12-01T10:00:00Z",
                            "2026-12-01T23:30:00-08:00",
                            "2026-12-01T10:00:00.123456+02:00",
                            "2026-12-01T10:00:00",
                            "2026-12-01",
                        ]
                    ),
                    st.integers(0, 2**33),
                ),
            },
            optional={
                "length": st.one_of(st.none(), st.floats(0, 1e6), st.integers(0, 10**6)),
                "success": st.one_of(st.none(), st.booleans()),
                "commit": st.one_of(st.none(), st.text(max_size=8)),
                "trigger": st.sampled_from(["api", "webhook", "pull_request"]),
                "steps": st.lists(
                    st.fixed_dictionaries(
                        {"name": st.text(max_size=6), "seconds": st.floats(0, 100)}
                    ),
                    max_size=2,
                ),
            },
        ),
    },
    optional={
        "config": st.fixed_dictionaries(
            {},
            optional={
                "user": st.one_of(st.none(), st.dictionaries(st.text(max_size=5), json_values)),
                "user_raw": st.one_of(st.none(), st.text(max_size=10), st.just("TOKEN=abcdefgh")),
                "final": st.one_of(st.none(), st.dictionaries(st.text(max_size=5), json_values)),
                "warnings": st.lists(st.text(max_size=4), max_size=2),
            },
        ),
        "packages": st.fixed_dictionaries(
            {},
            optional={
                "pip": st.fixed_dictionaries(
                    {},
                    optional={
                        "user": st.lists(good_requirement, max_size=3),
                        "top_level": st.lists(good_package, max_size=3),
                        "all": st.lists(good_package, max_size=5),
                    },
                ),
                "conda": st.fixed_dictionaries(
                    {},
                    optional={
                        "user": st.lists(good_conda, max_size=3),
                        "all": st.lists(good_conda, max_size=3),
                    },
                ),
                "apt": st.fixed_dictionaries(
                    {},
                    optional={
                        "user": st.lists(good_package, max_size=3),
                        "all": st.lists(good_package, max_size=3),
                    },
                ),
            },
        ),
        "python": st.one_of(st.none(), st.text(max_size=6)),
        "tools": st.dictionaries(good_names, st.text(max_size=5), max_size=2),
        "doctool": st.fixed_dictionaries(
            {},
            optional={
                "name": st.sampled_from(["sphinx", "mkdocs", "other", None]),
                "extensions": st.lists(good_names, max_size=2),
                "theme": st.one_of(st.none(), good_names),
            },
        ),
        "errors": st.lists(
            st.fixed_dictionaries({"probe": st.text(max_size=5), "message": st.text(max_size=5)}),
            max_size=2,
        ),
        "collector": st.fixed_dictionaries(
            {},
            optional={"version": st.text(max_size=4), "seconds": st.floats(0, 10)},
        ),
        "redactions": st.integers(0, 5),
    },
)


@settings(max_examples=800, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(good_records, st.data())
def test_agree_on_mostly_valid_records(record, data):
    if data.draw(st.booleans()):  # break one part of it
        part = data.draw(st.sampled_from(sorted(record)))
        record[part] = data.draw(json_values)
    assert_agree(record)
