from __future__ import annotations

import copy
import errno
import os
import signal
import subprocess
import sys
import textwrap
import time
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from buildcensus.errors import LakeError, NotFoundError
from buildcensus.lake import Lake, LocalStorage
from buildcensus.lake.keys import blob_key, build_key
from buildcensus.lake.storage import check_key
from buildcensus.record import parse_record
from buildcensus.redact import redact_record


@pytest.fixture
def lake(tmp_path):
    return Lake(LocalStorage(tmp_path / "lake"))


def test_key_layout():
    when = datetime(2026, 3, 7, 23, 59, tzinfo=UTC)
    assert build_key(when, 123) == "telemetry/builds/2026/03/2026-03-07-123.json"


@pytest.mark.parametrize("bad", ["../x", "a/../b", "/etc/passwd", "a\x00b", "a\\b", "", "a//b"])
def test_check_key_rejects_escapes(bad):
    with pytest.raises(LakeError):
        check_key(bad)


def test_key_builder_rejects_bad_ids():
    with pytest.raises(ValueError):
        build_key(datetime(2026, 1, 1, tzinfo=UTC), "../../x")
    with pytest.raises(ValueError):
        blob_key("../../x")


def test_round_trip(lake, record_dict):
    rec = parse_record(record_dict)
    res = lake.store(rec)
    assert res.status == "stored"
    assert res.key == "telemetry/builds/2026/12/2026-12-01-42.json"
    assert lake.get("42") == rec.to_json_dict()
    assert lake.get(res.key) == rec.to_json_dict()


def test_heavy_parts_stored_once(lake, record_dict, tmp_path):
    for i in range(5):
        record_dict["build"]["id"] = 100 + i
        record_dict["build"]["start"] = f"2026-12-0{i + 1}T10:00:00Z"
        lake.store(parse_record(record_dict))
    blobs = list(lake.storage.list("telemetry/blobs"))
    # user, user_raw, final, pip user/top_level/all, apt all: 7 blobs for 5 builds
    assert len(blobs) == 7
    raw = lake.read_raw("telemetry/builds/2026/12/2026-12-03-102.json")
    assert set(raw["packages"]["pip"]["all"]) == {"$blob"}


def test_same_day_duplicate_is_a_reference(lake, record_dict):
    first = lake.store(parse_record(record_dict))
    record_dict["build"].update(id=43, start="2026-12-01T18:00:00Z", length=99.0)
    record_dict["collector"] = {"seconds": 0.25}
    dup = lake.store(parse_record(record_dict))
    assert dup.status == "duplicate"
    assert dup.duplicate_of == first.key
    assert dup.key == "telemetry/duplicates/2026/12/2026-12-01-43.json"
    back = lake.get("43")
    assert back == parse_record(record_dict).to_json_dict()  # nothing of the duplicate lost
    assert back["build"]["id"] == 43 and back["build"]["length"] == 99.0
    assert back["packages"] == lake.get("42")["packages"]
    assert len(list(lake.iter_keys())) == 2


def test_different_content_or_day_is_not_duplicate(lake, record_dict):
    lake.store(parse_record(record_dict))
    record_dict["build"].update(id=43)
    record_dict["build"]["success"] = False
    assert lake.store(parse_record(record_dict)).status == "stored"
    record_dict["build"].update(id=44, start="2026-12-02T10:00:00Z", success=True)
    assert lake.store(parse_record(record_dict)).status == "stored"
    record_dict["build"].update(id=45, start="2026-12-01T11:00:00Z")
    record_dict["version"]["slug"] = "stable"
    assert lake.store(parse_record(record_dict)).status == "stored"


def test_restore_same_id_is_idempotent(lake, record_dict):
    a = lake.store(parse_record(record_dict))
    b = lake.store(parse_record(record_dict))
    assert b.status == "duplicate" and b.key == a.key
    assert len(list(lake.iter_keys())) == 1


def test_restore_same_id_different_content_rejected(lake, record_dict):
    lake.store(parse_record(record_dict))
    record_dict["python"] = "3.8.0"
    with pytest.raises(LakeError, match="different content"):
        lake.store(parse_record(record_dict))


def test_missing_build(lake):
    with pytest.raises(NotFoundError):
        lake.get("777")
    with pytest.raises(NotFoundError):
        lake.get("../../etc/passwd")


slug = st.from_regex(r"[a-z0-9][a-z0-9_-]{0,20}", fullmatch=True)
vslug = st.from_regex(r"[a-z0-9][a-z0-9_-]{0,10}(\.[a-z0-9]{1,3})?", fullmatch=True)
text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=30)
pkg = st.fixed_dictionaries(
    {"name": st.text("abcXYZ_.-", min_size=1, max_size=12), "version": st.one_of(st.none(), text)}
)
json_scalar = st.one_of(st.none(), st.booleans(), st.integers(-(10**6), 10**6), text)
json_value = st.recursive(
    json_scalar,
    lambda c: st.one_of(st.lists(c, max_size=4), st.dictionaries(text, c, max_size=4)),
    max_leaves=12,
)
records = st.fixed_dictionaries(
    {
        "schema_version": st.just(1),
        "project": st.fixed_dictionaries({"slug": slug}),
        "version": st.fixed_dictionaries({"slug": vslug}),
        "build": st.fixed_dictionaries(
            {
                "id": st.one_of(
                    st.integers(0, 10**12),
                    st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_-]{0,10}", fullmatch=True),
                ),
                "start": st.datetimes(
                    min_value=datetime(2000, 1, 1),
                    max_value=datetime(2100, 1, 1),
                    timezones=st.just(UTC),
                ).map(lambda d: d.isoformat()),
                "length": st.one_of(st.none(), st.floats(0, 1e6)),
                "success": st.one_of(st.none(), st.booleans()),
                "trigger": st.sampled_from(
                    ["api", "manual", "webhook", "automation_rule", "pull_request", "other"]
                ),
            }
        ),
        "config": st.fixed_dictionaries(
            {
                "user": st.one_of(st.none(), st.dictionaries(text, json_value, max_size=4)),
                "user_raw": st.one_of(st.none(), text),
            }
        ),
        "python": st.one_of(st.none(), text),
        "packages": st.fixed_dictionaries(
            {
                "pip": st.fixed_dictionaries({"all": st.lists(pkg, max_size=5)}),
                "apt": st.fixed_dictionaries({"all": st.lists(pkg, max_size=5)}),
            }
        ),
    }
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(records)
def test_hypothesis_round_trip(tmp_path_factory, data):
    lake = Lake(LocalStorage(tmp_path_factory.mktemp("lake")))
    rec = parse_record(data)
    res = lake.store(rec)
    expected = redact_record(rec)
    assert lake.load(res.key) == expected.to_json_dict()
    assert parse_record(lake.load(res.key)) == expected


WRITER = textwrap.dedent(
    """
    import sys, time
    from buildcensus.lake.storage import LocalStorage
    s = LocalStorage(sys.argv[1])
    orig = s._write_temp
    def slow(path, data):
        tmp = orig(path, data[: len(data) // 2])
        print("half", flush=True)
        time.sleep(60)
        return tmp
    s._write_temp = slow
    s.put("telemetry/builds/2026/01/2026-01-01-1.json", b'{"complete": true}' * 1000)
    """
)


def test_killed_writer_leaves_no_partial_file(tmp_path, record_dict):
    root = tmp_path / "lake"
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(root)], stdout=subprocess.PIPE)
    assert proc.stdout.readline().strip() == b"half"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    storage = LocalStorage(root)
    assert not storage.exists("telemetry/builds/2026/01/2026-01-01-1.json")
    assert list(storage.list()) == []  # the temp file is invisible to readers
    lake = Lake(storage)
    record_dict["build"].update(id=1, start="2026-01-01T00:00:00Z")
    assert lake.store(parse_record(record_dict)).status == "stored"
    assert lake.get("1")["build"]["id"] == 1


def test_killed_store_process_then_restore(tmp_path, record_dict):
    """SIGKILL a real `buildcensus store` at random points; the next store always succeeds."""
    import json
    import random

    rnd = random.Random(7)
    root = tmp_path / "lake"
    recs = tmp_path / "recs.ndjson"
    lines = []
    for i in range(300):
        d = json.loads(json.dumps(record_dict))
        d["build"].update(id=i, start=f"2026-12-{1 + i % 28:02d}T10:00:00Z")
        d["python"] = f"3.{i % 13}.0"
        lines.append(json.dumps(d))
    recs.write_text("\n".join(lines) + "\n")
    for _ in range(3):
        proc = subprocess.Popen(
            [sys.executable, "-m", "buildcensus", "store", str(recs), "--lake", str(root)],
            stdout=subprocess.DEVNULL,
        )
        time.sleep(rnd.uniform(0.3, 1.2))
        proc.kill()
        proc.wait()
    out = subprocess.run(
        [sys.executable, "-m", "buildcensus", "store", str(recs), "--lake", str(root)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    lake = Lake(LocalStorage(root))
    keys = list(lake.iter_keys())
    assert len(keys) == 300
    for k in keys:
        lake.load(k)  # every document parses: no torn file


def test_forget_project(lake, record_dict):
    from datetime import UTC, datetime

    from buildcensus.lake import forget_project, forgotten_projects

    lake.store(parse_record(record_dict))  # demo, build 42
    record_dict["build"].update(id=43, start="2026-12-01T12:00:00Z")
    lake.store(parse_record(record_dict))  # duplicate of 42
    other = parse_record({**record_dict, "project": {"slug": "other"}, "python": "3.9"})
    other_dict = other.to_json_dict()
    other_dict["build"]["id"] = 44
    lake.store(parse_record(other_dict))
    only_demo = {**record_dict, "python": "2.7"}
    only_demo["packages"] = {"pip": {"all": [{"name": "only-demo-uses-this", "version": "1"}]}}
    only_demo["build"] = {**record_dict["build"], "id": 45}
    lake.store(parse_record(only_demo))
    blobs_before = set(lake.storage.list("telemetry/blobs"))
    summary = forget_project(lake, "demo", datetime(2026, 12, 4, tzinfo=UTC))
    assert summary.documents == 3
    assert {lake.load(k)["project"]["slug"] for k in lake.iter_keys()} == {"other"}
    # Blobs shared with "other" survive; blobs used only by demo are gone.
    remaining = set(lake.storage.list("telemetry/blobs"))
    assert remaining < blobs_before
    assert lake.get("44")["packages"]["pip"]["all"][0]["name"] == "Sphinx"
    assert forgotten_projects(lake) == {"demo"}
    with pytest.raises(LakeError, match="opted out"):
        lake.store(parse_record(record_dict))


def test_group_commit_concurrent_stores(tmp_path, record_dict):
    """Group commit: concurrent stores all return (after a shared sync) and all land."""
    from concurrent.futures import ThreadPoolExecutor

    lake = Lake(LocalStorage(tmp_path / "lake", group_commit=True))

    def one(i: int) -> str:
        d = {**record_dict, "build": {**record_dict["build"], "id": i}, "python": f"3.{i}"}
        return lake.store(parse_record(d)).status

    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(one, range(40)))
    assert statuses == ["stored"] * 40
    assert len(list(lake.iter_keys())) == 40
    assert lake.storage._group._done >= 1


def test_group_commit_coroutine_writers_share_syncs(tmp_path, record_dict):
    """Coroutines awaiting `sync_async` (the service's single posts) each return only after
    a sync that was asked for after their call, share syncs (made by the sync process), and
    mix with threads that `sync`."""
    import asyncio
    import threading

    from buildcensus.record import parse_record_document

    lake = Lake(LocalStorage(tmp_path / "lake", group_commit=True))
    group = lake.storage._group
    covered: list[bool] = []

    async def one(i: int) -> str:
        d = {**record_dict, "build": {**record_dict["build"], "id": i}, "python": f"3.{i}"}
        result = lake.store_document(parse_record_document(copy.deepcopy(d)), sync=False)
        asked = group._syncer.requests if group._syncer else 0  # before this writer's call
        await lake.sync_async()
        covered.append(group._syncer.syncs > asked)  # syncs are answered in order
        return result.status

    def threads() -> None:
        for i in range(1000, 1010):
            d = {**record_dict, "build": {**record_dict["build"], "id": i}, "python": f"3.{i}"}
            assert lake.store(parse_record(d)).status == "stored"

    async def main() -> list[str]:
        return list(await asyncio.gather(*(one(i) for i in range(60))))

    t = threading.Thread(target=threads)
    t.start()
    statuses = asyncio.run(main())
    t.join()
    syncer = group._syncer
    assert statuses == ["stored"] * 60
    assert covered == [True] * 60
    assert len(list(lake.iter_keys())) == 70
    assert syncer is not None and syncer.alive
    assert 1 <= syncer.syncs == syncer.requests < 30  # the 60 coroutines shared syncs
    assert not syncer._pending and syncer._inflight is None
    assert group._done == group._requested == 10  # the threads synced on their own
    syncer.close()
    assert syncer.proc.poll() is not None  # the child exits when its pipe closes


def test_group_commit_cancelled_waiter_leaves_the_others_alone(tmp_path):
    import asyncio

    storage = LocalStorage(tmp_path / "lake", group_commit=True)

    async def main() -> None:
        first = asyncio.ensure_future(storage.sync_async())
        second = asyncio.ensure_future(storage.sync_async())
        await asyncio.sleep(0)
        first.cancel()
        await second
        await storage.sync_async()  # and later waiters are still answered

    asyncio.run(main())  # the sync process of this loop
    syncer = storage._group._syncer
    assert syncer is not None and syncer.syncs >= 1 and not syncer._pending
    asyncio.run(main())  # another event loop, same storage: the helper thread
    assert storage._group._done == storage._group._requested == 3


def test_group_commit_survives_the_sync_process_dying(tmp_path, record_dict):
    """A killed sync process fails nobody: who waits is synced on a thread, and so is who
    comes later."""
    import asyncio
    import signal

    from buildcensus.record import parse_record_document

    lake = Lake(LocalStorage(tmp_path / "lake", group_commit=True))
    group = lake.storage._group

    async def store(i: int) -> str:
        d = {**record_dict, "build": {**record_dict["build"], "id": i}, "python": f"3.{i}"}
        result = lake.store_document(parse_record_document(copy.deepcopy(d)), sync=False)
        await lake.sync_async()
        return result.status

    async def main() -> list[str]:
        first = await store(1)  # starts the sync process
        os.kill(group._syncer.proc.pid, signal.SIGKILL)
        group._syncer.proc.wait()
        rest = await asyncio.gather(*(store(i) for i in range(2, 12)))
        return [first, *rest, await store(12)]

    assert asyncio.run(main()) == ["stored"] * 12
    assert not group._syncer.alive
    assert group._done == group._requested >= 1  # the later writers synced on the thread
    assert len(list(lake.iter_keys())) == 12


def _tree(root):
    out = {}
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            path = os.path.join(dirpath, name)
            with open(path, "rb") as f:
                out[os.path.relpath(path, root)] = f.read()
    return out


def test_shared_parts_store_exactly_the_same(tmp_path):
    """The simulator's fast path (parts remembered by identity) writes the same bytes."""
    from datetime import date

    from buildcensus.simulate import SimulateOptions, simulate

    recs = list(simulate(SimulateOptions(projects=60, days=6, seed=5, end=date(2026, 11, 30))))
    assert len({id(r.packages) for r in recs}) < len(recs)  # parts really are shared
    plain = Lake(LocalStorage(tmp_path / "plain", durable=False))
    shared = Lake(LocalStorage(tmp_path / "shared", durable=False))
    a = [plain.store(r) for r in recs]
    b = [shared.store(r, shared_parts=True) for r in recs]
    assert a == b
    assert any(r.status == "duplicate" for r in a)
    assert _tree(tmp_path / "plain") == _tree(tmp_path / "shared")
    for rec, res in zip(recs[:200], b[:200], strict=True):
        assert shared.load(res.key) == redact_record(rec).to_json_dict()


def test_shared_parts_rewrite_blobs_deleted_behind_the_lake(tmp_path, record_dict):
    """Blobs deleted by prune/forget (which clear the known-blob set) are written again."""
    lake = Lake(LocalStorage(tmp_path / "lake", durable=False))
    rec = parse_record(record_dict)
    lake.store(rec, shared_parts=True)
    for key in list(lake.storage.list("telemetry/blobs")):
        lake.storage.delete(key)
    lake._known_blobs.clear()
    again = rec.model_copy(update={"build": rec.build.model_copy(update={"id": 43})})
    again.python = "3.99"  # other content: stored in full, refers to the same blobs
    res = lake.store(again, shared_parts=True)
    assert res.status == "stored"
    assert lake.load(res.key)["packages"] == rec.to_json_dict()["packages"]
    assert lake.load(res.key)["config"] == rec.to_json_dict()["config"]


def test_fingerprint_of_stored_document_equals_full_record(lake, record_dict):
    from buildcensus.lake import fingerprint

    res = lake.store(parse_record(record_dict))
    assert fingerprint(lake.read_raw(res.key)) == fingerprint(lake.load(res.key))
    assert fingerprint(lake.load(res.key)) == fingerprint(parse_record(record_dict).to_json_dict())


def test_restore_of_a_duplicate_with_other_content_rejected(lake, record_dict):
    lake.store(parse_record(record_dict))  # 42
    record_dict["build"].update(id=43, start="2026-12-01T18:00:00Z")
    assert lake.store(parse_record(record_dict)).status == "duplicate"
    assert lake.store(parse_record(record_dict)).key.startswith("telemetry/duplicates/")
    record_dict["python"] = "3.8.0"
    with pytest.raises(LakeError, match="different content"):
        lake.store(parse_record(record_dict))


def test_restore_with_content_of_another_build_rejected(lake, record_dict):
    """An id stored in full, stored again with the content of another build of that day, is an
    error -- not a duplicate reference next to its own document."""
    lake.store(parse_record(record_dict))  # 42
    record_dict["build"]["id"] = 43
    record_dict["python"] = "3.8.0"
    lake.store(parse_record(record_dict))  # 43, other content
    record_dict["python"] = lake.get("42")["python"]  # now 43 claims 42's content
    with pytest.raises(LakeError, match="different content"):
        lake.store(parse_record(record_dict))
    assert not lake.storage.exists("telemetry/duplicates/2026/12/2026-12-01-43.json")


def test_put_if_absent_leaves_no_temp_files(tmp_path):
    s = LocalStorage(tmp_path / "s", durable=True)
    assert s.put_if_absent("a/b/c.json", b"1") is True
    assert s.put_if_absent("a/b/c.json", b"2") is False
    s.put("a/b/d.json", b"3")
    s.put("a/b/d.json", b"4")
    assert sorted(os.listdir(tmp_path / "s" / "a" / "b")) == ["c.json", "d.json"]
    assert s.get("a/b/c.json") == b"1" and s.get("a/b/d.json") == b"4"


def _both_ways(tmp_path, dicts):
    """Store each record dict with `store` in one lake and `store_document` in another:
    (outcomes, outcomes, tree, tree), an outcome being a StoreResult or the LakeError text."""
    from buildcensus.record import parse_record_document

    by_record = Lake(LocalStorage(tmp_path / "record", durable=False))
    by_document = Lake(LocalStorage(tmp_path / "document", durable=False))
    a, b = [], []
    for d in dicts:
        for lake, out, parse in (
            (by_record, a, lambda d: parse_record(d)),
            (by_document, b, lambda d: parse_record_document(d)),
        ):
            try:
                store = lake.store if out is a else lake.store_document
                out.append(store(parse(copy.deepcopy(d))))
            except LakeError as exc:
                out.append(str(exc))
    return a, b, _tree(tmp_path / "record"), _tree(tmp_path / "document")


def test_store_document_stores_exactly_what_store_does(tmp_path, record_dict):
    """The ingest service's path (validated dicts) writes the same bytes as `store`, with
    redaction, duplicates, re-stores and conflicts."""
    from datetime import date

    from buildcensus.simulate import SimulateOptions, simulate

    sims = simulate(SimulateOptions(projects=40, days=4, seed=11, end=date(2026, 11, 30)))
    dicts = [r.to_json_dict() for r in sims]
    secret = copy.deepcopy(record_dict)
    secret["config"]["user_raw"] = "export GH_TOKEN=ghp_" + "a" * 36
    secret["python"] = "3.12 --token=abcdefghijklmnop"
    secret["tools"] = {"pip": "https://user:pw@example.org/simple"}
    secret["packages"]["conda"] = {
        "user": [{"name": "NumPy", "channel": "https://t:s3cret@conda.example/c"}],
        "all": [{"name": "NumPy", "channel": "https://t:s3cret@conda.example/c"}],
    }
    secret["packages"]["pip"]["user"][0]["url"] = "git+https://ghp_" + "b" * 36 + "@github.com/x"
    later = copy.deepcopy(secret)
    later["build"].update(id=43, start="2026-12-01T18:30:00+02:00", length=1)
    other = copy.deepcopy(later)
    other["python"] = "3.8"  # id 43 again, other content: a conflict
    dicts += [record_dict, secret, secret, later, later, other, dicts[0], dicts[1]]
    a, b, tree_a, tree_b = _both_ways(tmp_path, dicts)
    assert a == b
    assert tree_a == tree_b
    statuses = {r.status if not isinstance(r, str) else "error" for r in a}
    assert statuses == {"stored", "duplicate", "error"}
    assert b"s3cret" not in b"".join(tree_b.values())


def test_local_markers_are_links_to_their_document(tmp_path, record_dict):
    """A local lake's same-day marker is a second name of the document (no file written);
    key-holding markers (older lakes, object stores, crash repairs) still work, and a marker
    holding neither is treated as absent."""
    from buildcensus.lake import forget_project, marker_target
    from buildcensus.lake.keys import DEDUP

    lake = Lake(LocalStorage(tmp_path / "lake", durable=False))
    record_dict["build"].update(id=1, start="2026-03-04T10:00:00Z")
    key = lake.store(parse_record(record_dict)).key
    (marker,) = lake.storage.list(DEDUP)
    root = lake.storage.root
    assert os.path.samefile(root / marker, root / key)
    assert marker_target((root / marker).read_bytes()) == key
    assert marker_target(key.encode()) == key
    assert marker_target(b"") is None and marker_target(b'{"build": 1}') is None
    # A same-day duplicate is found through the linked marker.
    again = {**record_dict, "build": {**record_dict["build"], "id": 2}}
    result = lake.store(parse_record(again))
    assert (result.status, result.duplicate_of) == ("duplicate", key)
    # An old-style marker (the key as its content) is read the same way.
    lake.storage.delete(marker)
    lake.storage.put(marker, key.encode())
    third = {**record_dict, "build": {**record_dict["build"], "id": 3}}
    assert lake.store(parse_record(third)).duplicate_of == key
    # Forgetting the project removes the marker, whose content is the document.
    lake.storage.delete(marker)
    assert lake._mark(marker, key)
    forget_project(lake, record_dict["project"]["slug"], datetime(2026, 3, 5, tzinfo=UTC))
    assert list(lake.storage.list(DEDUP)) == []


def test_put_if_absent_by_unnamed_file(tmp_path):
    """New objects are written as unnamed files linked in place: no temporary name, one link."""
    s = LocalStorage(tmp_path / "s", durable=True)
    assert s._unnamed  # Linux with O_TMPFILE on this file system
    assert s.put_if_absent("a/b/c.json", b"1") is True
    assert s.put_if_absent("a/b/c.json", b"2") is False
    assert s._unnamed  # still: a name that exists is no failure
    assert os.listdir(tmp_path / "s" / "a" / "b") == ["c.json"]
    assert s.get("a/b/c.json") == b"1" and os.stat(tmp_path / "s/a/b/c.json").st_nlink == 1


def test_put_if_absent_by_unnamed_file_with_a_relative_root(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    s = LocalStorage("lake")
    assert s.put_if_absent("a/c.json", b"1") is True
    assert s._unnamed and (tmp_path / "lake/a/c.json").read_bytes() == b"1"


@pytest.mark.parametrize("fails", ["open", "link"])
def test_put_if_absent_falls_back_to_named_temp_files(tmp_path, monkeypatch, fails):
    """Without O_TMPFILE (e.g. NFS) or /proc, new objects take a named temp file, once and for
    all, with the same results."""
    import buildcensus.lake.storage as storage_mod

    real_open, real_link = os.open, os.link

    def no_tmpfile(path, flags, *a, **k):
        if fails == "open" and flags & os.O_TMPFILE == os.O_TMPFILE:
            raise OSError(errno.EOPNOTSUPP, "not supported")
        return real_open(path, flags, *a, **k)

    def no_proc(src, dst, *a, **k):
        if fails == "link" and str(src).startswith("/proc/"):
            raise FileNotFoundError(errno.ENOENT, "no /proc")
        return real_link(src, dst, *a, **k)

    monkeypatch.setattr(storage_mod.os, "open", no_tmpfile)
    monkeypatch.setattr(storage_mod.os, "link", no_proc)
    s = LocalStorage(tmp_path / "s")
    assert s.put_if_absent("a/c.json", b"1") is True
    assert not s._unnamed
    assert s.put_if_absent("a/c.json", b"2") is False
    assert s.put_if_absent("a/d.json", b"3") is True
    assert sorted(os.listdir(tmp_path / "s" / "a")) == ["c.json", "d.json"]
    assert s.get("a/c.json") == b"1" and s.get("a/d.json") == b"3"
