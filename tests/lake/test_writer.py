"""The writer process (`lake.writer`): commits what `Lake.commit` commits, durably; when it
dies, what it had not answered is committed by the fallback, exactly once."""

from __future__ import annotations

import asyncio
import copy
import os
import signal
from pathlib import Path
from typing import Any

import pytest

from buildcensus.errors import LakeError
from buildcensus.lake import Lake, Prepared, StoreResult, open_lake
from buildcensus.lake.locks import lock_file_for
from buildcensus.lake.writer import WriterFailed, WriterProcess
from buildcensus.record import parse_record_document


def _tree(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != ".ingest.lock"
    }


def _docs(record_dict: dict[str, Any]) -> list[dict[str, Any]]:
    """New records, a same-day duplicate of the first, a re-store of it, a re-store of a
    build id with other content, and a record whose content repeats within the list."""
    out = []
    for i in range(6):
        d = copy.deepcopy(record_dict)
        d["build"]["id"] = 100 + i
        d["python"] = f"3.{i}.1"
        out.append(d)
    dup = copy.deepcopy(out[0])
    dup["build"]["id"] = 200  # same content and day as 100: a duplicate reference
    other = copy.deepcopy(out[1])
    other["python"] = "3.99.0"  # build id 101 again, other content: refused
    return [*out, dup, copy.deepcopy(out[0]), copy.deepcopy(dup), other]


def _results(outcomes: list[Any]) -> list[Any]:
    return [o if isinstance(o, StoreResult) else ("refused", str(o)) for o in outcomes]


async def _started(lake: Lake, fallback: Any = None) -> WriterProcess:
    async def commit_here(prepared: Prepared) -> StoreResult:
        result = lake.commit(prepared)
        await lake.sync_async()
        return result

    root = lake.storage.root  # type: ignore[attr-defined]
    writer = WriterProcess.start(
        root, lock_file_for(lake), asyncio.get_running_loop(), fallback or commit_here
    )
    assert writer is not None
    for _ in range(3000):
        if writer.ready:
            return writer
        await asyncio.sleep(0.01)
    raise AssertionError("the writer process did not start")


def test_writer_commits_what_the_lake_commits(tmp_path, record_dict):
    docs = _docs(record_dict)
    inline = open_lake(str(tmp_path / "inline"), group_commit=True)
    expected: list[Any] = []
    for d in docs:
        try:
            expected.append(inline.commit(inline.prepare_document(parse_record_document(d))))
        except LakeError as exc:
            expected.append(exc)

    async def main() -> list[Any]:
        lake = open_lake(str(tmp_path / "writer"), group_commit=True)
        writer = await _started(lake)
        prepared = [lake.prepare_document(parse_record_document(d)) for d in docs]
        # The blobs of new parts go with their document: the writer process writes them.
        assert prepared[0].blobs and not (tmp_path / "writer" / "telemetry" / "blobs").exists()
        futures = [writer.submit(p) for p in prepared]
        outcomes = await asyncio.gather(*futures, return_exceptions=True)
        assert writer.answers == len(docs) and writer.alive
        writer.close()
        assert writer.proc.wait(10) == 0  # it exits when its pipe closes
        return list(outcomes)

    got = asyncio.run(main())
    assert _results(got) == _results(expected)
    assert [r.status for r in got[:7]] == ["stored"] * 6 + ["duplicate"]
    assert isinstance(got[-1], LakeError) and "different content" in str(got[-1])
    assert _tree(tmp_path / "writer") == _tree(tmp_path / "inline")


def test_writer_answers_failed_for_an_internal_error(tmp_path, record_dict):
    """A write that fails for another reason than the lake's refusal is a WriterFailed (the
    service answers 500), and the writer goes on with the next document."""

    async def main() -> tuple[Any, Any]:
        lake = open_lake(str(tmp_path / "lake"), group_commit=True)
        writer = await _started(lake)
        good = lake.prepare_document(parse_record_document(record_dict))
        blocker = Path(lake.storage.root, good.key)  # type: ignore[attr-defined]
        blocker.parent.mkdir(parents=True)
        blocker.write_bytes(b"a file where a directory has to be")
        bad = Prepared(
            good.key + "/x.json",
            good.duplicate_key,
            good.marker,
            good.data,
            good.fingerprint,
            good.build_id,
        )
        first = await asyncio.gather(writer.submit(bad), return_exceptions=True)
        record_dict["build"]["id"] = 7
        second = await writer.submit(lake.prepare_document(parse_record_document(record_dict)))
        writer.close()
        return first[0], second

    failed, stored = asyncio.run(main())
    assert isinstance(failed, WriterFailed) and "Error: " in str(failed)
    assert stored.status == "stored"


def test_writer_killed_with_documents_in_flight(tmp_path, record_dict):
    """SIGKILL the writer process with hundreds of documents handed over: every one is
    answered (stored, or a duplicate where the child had stored it before it died) and is in
    the lake exactly once; later documents are committed by the fallback."""
    n = 400
    fallbacks: list[int | str] = []

    async def main() -> list[StoreResult]:
        lake = open_lake(str(tmp_path / "lake"), group_commit=True)

        async def fallback(prepared: Prepared) -> StoreResult:
            fallbacks.append(prepared.build_id)
            result = lake.commit(prepared)
            await lake.sync_async()
            return result

        writer = await _started(lake, fallback)
        futures = []
        for i in range(n):
            d = copy.deepcopy(record_dict)
            d["build"]["id"] = 1000 + i
            d["python"] = f"3.{i}.0"
            futures.append(writer.submit(lake.prepare_document(parse_record_document(d))))
            if i == n // 4:
                await asyncio.sleep(0)  # some answers may come in
                os.kill(writer.proc.pid, signal.SIGKILL)
        results = list(await asyncio.gather(*futures))
        assert not writer.alive
        writer.proc.wait(10)
        return results

    results = asyncio.run(main())
    assert len(results) == n
    assert {r.status for r in results} <= {"stored", "duplicate"}
    assert fallbacks  # the child did not answer them all
    keys = list(open_lake(str(tmp_path / "lake")).iter_keys())
    assert len(keys) == n == len(set(keys))
    assert sorted(r.key for r in results) == sorted(keys)


@pytest.mark.parametrize("kill", [False, True])
def test_ingestor_uses_the_writer_only_when_ready(tmp_path, kill):
    """No writer process before it is ready (the service stores records itself), none after
    it died."""
    from buildcensus.service.ingest import Ingestor, OptOutList
    from buildcensus.service.metrics import Metrics
    from buildcensus.service.settings import Limits

    async def main() -> tuple[bool, bool, bool]:
        lake = open_lake(str(tmp_path / "lake"), group_commit=True)
        ingestor = Ingestor(lake, Limits(), OptOutList(None), Metrics(), writer=True)
        before = ingestor._ready_writer() is not None  # starts it
        ready = await ingestor.start_writer(wait=60)
        if kill:
            os.kill(ingestor._writer.proc.pid, signal.SIGKILL)
            for _ in range(1000):
                if not ingestor._writer.alive:
                    break
                await asyncio.sleep(0.01)
        after = ingestor._ready_writer() is not None
        ingestor.close()
        return before, ready, after

    before, ready, after = asyncio.run(main())
    assert (before, ready, after) == (False, True, not kill)
