"""Fuzzing the record validator and the lake key builder: a value or our own error, never a
crash and never a key outside the lake."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from buildcensus.errors import LakeError, RecordError
from buildcensus.lake.keys import build_key, duplicate_key
from buildcensus.lake.storage import LocalStorage, check_key
from buildcensus.record import parse_record, parse_record_json

json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text()),
    lambda c: st.one_of(st.lists(c, max_size=5), st.dictionaries(st.text(), c, max_size=5)),
    max_leaves=30,
)
record_like = st.fixed_dictionaries(
    {},
    optional={
        "schema_version": st.one_of(st.just(1), st.integers(), st.text()),
        "project": st.one_of(json_values, st.fixed_dictionaries({"slug": st.text()})),
        "version": st.one_of(json_values, st.fixed_dictionaries({"slug": st.text()})),
        "build": st.one_of(
            json_values,
            st.fixed_dictionaries({"id": st.one_of(st.integers(), st.text()), "start": st.text()}),
        ),
        "packages": json_values,
        "config": json_values,
        "user_config": json_values,
        "date": st.text(),
    },
)


@settings(max_examples=400, deadline=None)
@given(st.one_of(json_values, record_like))
def test_parse_record_never_crashes(data):
    try:
        rec = parse_record(data)
    except RecordError as exc:
        assert str(exc)
    else:
        assert rec.project.slug and rec.version.slug


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_parse_record_json_bytes(data):
    try:
        parse_record_json(data)
    except RecordError:
        pass


@settings(max_examples=500, deadline=None)
@given(
    st.one_of(st.integers(), st.text(max_size=80)),
    st.datetimes(
        min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31), timezones=st.just(UTC)
    ),
)
def test_key_builder_stays_in_lake(build_id, when):
    for fn in (build_key, duplicate_key):
        try:
            key = fn(when, build_id)
        except (ValueError, LakeError):
            continue
        assert ".." not in key.split("/") and not key.startswith("/")
        assert "\x00" not in key and "\\" not in key
        assert key.startswith("telemetry/")


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=60))
def test_storage_paths_never_escape(tmp_path_factory, key):
    root = tmp_path_factory.mktemp("root")
    storage = LocalStorage(root)
    try:
        check_key(key)
    except LakeError:
        return
    path = storage._path(key).resolve()
    assert path.is_relative_to(root.resolve())
