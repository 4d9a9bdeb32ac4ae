"""The ingestor's ways of storing give the same outcomes, metrics and lake bytes: batches on
one thread with one group-commit sync, or on a few threads with per-file fsyncs."""

from __future__ import annotations

import json
from typing import Any

from buildcensus.lake import open_lake
from buildcensus.service.http_errors import ApiError
from buildcensus.service.ingest import Ingestor, OptOutList
from buildcensus.service.metrics import Metrics
from buildcensus.service.settings import Limits

from .conftest import lake_files


def _batch(base: dict[str, Any], retry: bool = False) -> list[Any]:
    """Records of distinct content (the threads store those in any order), ids repeated with
    other content (conflicts), invalid items; a retry adds the content of build 42 under
    another id (a same-day duplicate)."""
    items: list[Any] = []
    for i in range(12):
        rec = json.loads(json.dumps(base))
        rec["build"]["id"] = 100 + i % 9  # ids 100-102 come twice
        rec["python"] = f"3.{i}"
        items.append(rec)
    bad = json.loads(json.dumps(base))
    bad["build"]["trigger"] = "cron"
    batch = [base, *items, bad, ApiError(400, "malformed_json", "malformed JSON"), base]
    if retry:
        same_day = json.loads(json.dumps(base))
        same_day["build"]["id"] = 200
        batch.append(same_day)
    return batch


def test_grouped_and_threaded_batches_agree(tmp_path, record_dict):
    results = {}
    for name, group in (("grouped", True), ("threaded", False)):
        lake = open_lake(str(tmp_path / name), group_commit=group)
        metrics = Metrics()
        ingestor = Ingestor(
            lake, Limits(), OptOutList(None), metrics, lock_file=tmp_path / name / ".ingest.lock"
        )
        assert ingestor._group_commit is group
        first = ingestor.ingest_many(_batch(record_dict))
        again = ingestor.ingest_many(_batch(record_dict, retry=True))
        outcomes = [o.to_json() for o in first + again]
        results[name] = (outcomes, metrics.render(), lake_files(tmp_path / name))
    assert results["grouped"] == results["threaded"]
    statuses = {o["status"] for o in results["grouped"][0]}
    assert statuses == {"stored", "duplicate", "rejected"}
    codes = {o["error"]["code"] for o in results["grouped"][0] if o["status"] == "rejected"}
    assert codes == {"conflict", "invalid_record", "malformed_json"}


def test_grouped_batch_stores_in_order(tmp_path, record_dict):
    """Same content under other ids in one batch: stored in turn, the later ones are same-day
    duplicates of the first (as when posted one after another)."""
    lake = open_lake(str(tmp_path / "lake"), group_commit=True)
    ingestor = Ingestor(lake, Limits(), OptOutList(None), Metrics())
    items = []
    for i in range(5):
        rec = json.loads(json.dumps(record_dict))
        rec["build"]["id"] = 300 + i
        items.append(rec)
    outcomes = ingestor.ingest_many(items)
    assert [o.status for o in outcomes] == ["stored"] + ["duplicate"] * 4
    assert {o.duplicate_of for o in outcomes[1:]} == {outcomes[0].key}
