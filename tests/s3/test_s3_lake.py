"""The Lake on S3Storage (real SeaweedFS): round trip, duplicates, idempotence, throughput."""

from __future__ import annotations

import time

import pytest

from buildcensus.errors import LakeError, NotFoundError
from buildcensus.lake import Lake, open_lake
from buildcensus.lake.keys import BLOBS
from buildcensus.lake.s3 import S3Storage
from buildcensus.record import parse_record

pytestmark = pytest.mark.s3


@pytest.fixture
def lake(s3_url) -> Lake:
    lk = open_lake(s3_url)
    assert isinstance(lk.storage, S3Storage)
    return lk


def test_round_trip(lake, record_dict):
    rec = parse_record(record_dict)
    res = lake.store(rec)
    assert res.status == "stored"
    assert res.key == "telemetry/builds/2026/12/2026-12-01-42.json"
    assert lake.get("42") == rec.to_json_dict()
    assert lake.get(res.key) == rec.to_json_dict()
    # A second Lake (cold caches) on the same URL reads the same record.
    assert open_lake(lake.url).get("42") == rec.to_json_dict()


def test_heavy_parts_stored_once(lake, record_dict):
    for i in range(4):
        record_dict["build"]["id"] = 100 + i
        record_dict["build"]["start"] = f"2026-12-0{i + 1}T10:00:00Z"
        lake.store(parse_record(record_dict))
    # user, user_raw, final, pip user/top_level/all, apt all: 7 blobs for 4 builds
    assert len(list(lake.storage.list(BLOBS))) == 7
    assert len(list(lake.iter_keys())) == 4


def test_same_day_duplicate_is_a_reference(lake, record_dict):
    first = lake.store(parse_record(record_dict))
    record_dict["build"]["id"] = 43
    record_dict["build"]["start"] = "2026-12-01T18:30:00Z"
    record_dict["build"]["length"] = 99.0
    dup = lake.store(parse_record(record_dict))
    assert dup.status == "duplicate"
    assert dup.key == "telemetry/duplicates/2026/12/2026-12-01-43.json"
    assert dup.duplicate_of == first.key
    full = lake.get("43")
    assert full["build"]["id"] == 43 and full["build"]["length"] == 99.0
    assert full["packages"] == lake.get("42")["packages"]
    assert sorted(lake.iter_keys()) == sorted([first.key, dup.key])


def test_restore_is_idempotent(lake, record_dict):
    rec = parse_record(record_dict)
    first = lake.store(rec)
    again = Lake(S3Storage(lake.url)).store(rec)  # fresh process-like state
    assert again.status == "duplicate"
    assert again.key == first.key
    assert again.duplicate_of is None
    assert list(lake.iter_keys()) == [first.key]


def test_same_id_different_content_is_refused(lake, record_dict):
    lake.store(parse_record(record_dict))
    record_dict["python"] = "3.13.1"
    with pytest.raises(LakeError, match="already stored with different content"):
        lake.store(parse_record(record_dict))


def test_missing_build(lake):
    with pytest.raises(NotFoundError, match="no build with id 7 in the lake"):
        lake.get("7")
    with pytest.raises(NotFoundError, match="not in the lake"):
        lake.get("telemetry/builds/2026/12/2026-12-01-7.json")


def test_store_throughput(lake, record_dict, capsys):
    """Sequential stores of distinct builds (shared blobs): report the rate we get."""
    n = 100
    records = []
    for i in range(n):
        record_dict["build"]["id"] = 1000 + i
        record_dict["build"]["start"] = f"2026-11-{1 + i % 28:02d}T{i % 24:02d}:00:00Z"
        record_dict["build"]["commit"] = f"c{i}"
        records.append(parse_record(record_dict))
    t0 = time.perf_counter()
    statuses = [lake.store(r).status for r in records]
    elapsed = time.perf_counter() - t0
    assert statuses == ["stored"] * n
    with capsys.disabled():
        print(f"\n[s3] Lake.store on SeaweedFS: {n / elapsed:.0f} builds/s ({n} sequential)")
    assert len(list(lake.iter_keys())) == n
