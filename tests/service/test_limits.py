"""The limits walk: the size-bounded shortcut agrees with the full walk."""

from __future__ import annotations

import copy
import gc
from typing import Any

import orjson
import pytest

from buildcensus.service.app import GC_THRESHOLDS, tune_gc
from buildcensus.service.http_errors import ApiError
from buildcensus.service.limits import check_shape
from buildcensus.service.settings import Limits

LIMITS = Limits(max_depth=4, max_string_length=10, max_list_length=3)


def _nested(depth: int) -> Any:
    value: Any = 1
    for i in range(depth):
        value = {"k": value} if i % 2 else [value]
    return value


CASES = [
    {"a": "x" * 10},
    {"a": "x" * 11},
    {"k" * 11: 1},
    [0, 0, 0],
    [0, 0, 0, 0],
    {"a": [[0, 0, 0, 0]]},
    _nested(4),
    _nested(5),
    {"a": [{"b": {"c": 1}}]},
    {"a": [{"b": {"c": {}}}]},
    {"a": [{"b": {"c": []}}], "z": "short"},
]


def _outcome(value: Any, size: int | None) -> tuple[str, str | None] | None:
    try:
        check_shape(value, LIMITS, size)
    except ApiError as exc:
        return exc.code, exc.path
    return None


@pytest.mark.parametrize("value", CASES)
def test_size_bound_gives_the_same_answer(value):
    text = orjson.dumps(value)
    assert _outcome(value, len(text)) == _outcome(value, None)


def test_short_text_still_checks_depth():
    value = {"a": [{"b": {"c": {}}}]}  # five levels, a few bytes
    assert _outcome(value, len(orjson.dumps(value))) == ("too_deep", "a.0.b.c")


def test_tune_gc_freezes_and_raises_the_threshold():
    before = gc.get_threshold()
    try:
        tune_gc()
        assert gc.get_threshold() == GC_THRESHOLDS
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)


@pytest.mark.parametrize(("max_depth", "rejected"), [(32, False), (63, False), (64, True)])
def test_record_depth_rule_holds_whatever_the_service_limit(tmp_path, max_depth, rejected):
    from buildcensus.lake import open_lake
    from buildcensus.service.ingest import Ingestor, OptOutList
    from buildcensus.service.metrics import Metrics

    limits = Limits(max_depth=max_depth)
    ingestor = Ingestor(open_lake(str(tmp_path / "lake")), limits, OptOutList(None), Metrics())
    value: Any = 1
    for _ in range(max_depth - 2):  # max_depth containers with the record and its config
        value = {"k": value}
    rec = {
        "project": {"slug": "p"},
        "version": {"slug": "v"},
        "build": {"id": 1, "start": "2026-01-01T00:00:00Z"},
        "schema_version": 1,
        "config": {"user": value},
    }
    text = orjson.dumps(rec)
    if rejected:  # 64 containers pass the service limit, not the record's own depth rule
        with pytest.raises(ApiError, match="nested deeper than 64"):
            ingestor.validate(rec, len(text))
    else:
        assert ingestor.validate(rec, len(text)).config.user == value


# ----------------------------------------------------------------- validating before the walk


def _container_depth(schema: Any, defs: dict[str, Any], where: str) -> int:
    """How deep containers of a valid value of a JSON Schema nest; `config.user` and
    `config.final` (any JSON: the service checks their depth itself) count as one level."""
    if "$ref" in schema:
        return _container_depth(defs[schema["$ref"].rsplit("/", 1)[-1]], defs, where)
    if "anyOf" in schema:
        return max(_container_depth(s, defs, where) for s in schema["anyOf"])
    kind = schema.get("type")
    if where in ("config.user", "config.final"):
        return 1
    if kind == "array":
        return 1 + _container_depth(schema["items"], defs, f"{where}.*")
    if kind == "object":
        inner = [
            _container_depth(s, defs, f"{where}.{k}".lstrip("."))
            for k, s in schema.get("properties", {}).items()
        ]
        extra = schema.get("additionalProperties", False)
        assert extra is not True, f"{where} takes any JSON: the skeleton depth is unbounded"
        if isinstance(extra, dict):
            inner.append(_container_depth(extra, defs, f"{where}.*"))
        return 1 + max(inner, default=0)
    assert kind is not None or "const" in schema or "enum" in schema, (where, schema)
    return 0


def test_record_skeleton_depth_is_the_deepest_the_schema_allows():
    from buildcensus.record import record_json_schema
    from buildcensus.service.ingest import RECORD_SKELETON_DEPTH

    schema = record_json_schema()
    assert _container_depth(schema, schema["$defs"], "") == RECORD_SKELETON_DEPTH


def _ingest_outcome(fn: Any, value: Any, size: int | None) -> Any:
    try:
        doc = fn(orjson.loads(orjson.dumps(value)), size)
    except ApiError as exc:
        return ("error", exc.status, exc.code, exc.message, exc.path)
    except Exception as exc:  # noqa: BLE001 - compared
        return ("raised", type(exc).__name__, str(exc))
    return ("ok", doc if isinstance(doc, dict) else doc.to_json_dict())


def _nest(depth: int, leaf: Any) -> Any:
    # A copy: hypothesis' `just({})` is one object, and the same dict nested in two places
    # (one inside the other, by a later change) would make a cycle.
    value = copy.deepcopy(leaf)
    for i in range(depth):
        value = {"k": value} if i % 2 else [value]
    return value


def _deep_variants() -> Any:
    from hypothesis import strategies as st

    places = st.sampled_from(
        [
            ("config", "user", "a"),
            ("config", "user", "b"),
            ("config", "final", "a"),
            ("config", "final", "b"),
            ("config", "user"),
            ("config", "warnings"),
            ("extra",),
            ("tools", "python"),
            ("packages", "pip", "all", 0, "name"),
            ("packages", "pip", "user", 0, "extras"),
            ("build", "steps"),
            ("python",),
        ]
    )
    return st.lists(
        st.tuples(
            places,
            st.integers(0, 12),
            st.one_of(st.just(1), st.just("x"), st.text(max_size=12), st.just({}), st.just([])),
        ),
        max_size=3,
    )


def test_validating_first_gives_the_same_answers(tmp_path, record_dict):
    """`validate_document` (validates first when that is cheaper) answers as the limits walk
    followed by validation does: the same documents, the same errors and their paths."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from buildcensus.lake import open_lake
    from buildcensus.service.ingest import Ingestor, OptOutList
    from buildcensus.service.metrics import Metrics

    lake = open_lake(str(tmp_path / "lake"))
    ingestors = {
        limits: Ingestor(lake, limits, OptOutList(None), Metrics())
        for limits in (
            Limits(),
            Limits(max_depth=6),
            Limits(max_depth=8, max_string_length=6, max_list_length=3),
            Limits(max_depth=5),
            Limits(max_depth=64),
        )
    }

    @settings(max_examples=800, deadline=None)
    @given(
        st.sampled_from([Limits(), Limits(), *sorted(ingestors, key=repr)]),
        _deep_variants(),
        st.sampled_from([True, True, True, False]),
    )
    def check(limits, changes, exact_size):
        rec = orjson.loads(orjson.dumps(record_dict))
        for place, depth, leaf in changes:
            target = rec
            for p in place[:-1]:
                if isinstance(target, dict) and isinstance(target.get(p), dict | list):
                    target = target[p]
                elif isinstance(target, list) and isinstance(p, int) and p < len(target):
                    target = target[p]
                else:
                    break
            else:
                if isinstance(target, dict):
                    target[place[-1]] = _nest(depth, leaf)
                elif isinstance(target, list) and isinstance(place[-1], int):
                    target[place[-1]] = _nest(depth, leaf)
        size = len(orjson.dumps(rec)) + (0 if exact_size else 10**7)
        ingestor = ingestors[limits]
        new = _ingest_outcome(ingestor.validate_document, rec, size)
        old = _ingest_outcome(ingestor.validate, rec, size)
        assert new == old

    check()
