"""The limits walk: the size-bounded shortcut agrees with the full walk."""

from __future__ import annotations

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
