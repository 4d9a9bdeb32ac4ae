"""The whole pipeline on S3 (SeaweedFS): store -> import -> report, same answers as on disk."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from buildcensus.cli import main

pytestmark = pytest.mark.s3

WINDOW = ["--since", "2026-11-01", "--until", "2026-12-01", "--format", "json"]
REPORTS = [
    ["versions", "--ecosystem", "pip", "--package", "Sphinx"],
    ["impact", "--where", "pip:sphinx<2", "--where", "python<3.8"],
    ["breakdown", "--by", "python", "--include-failed"],
    ["top", "--ecosystem", "pip"],
]


def run(capsys, *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(list(args))
    out = capsys.readouterr()
    return exc.value.code, out.out, out.err


def _records(base: dict[str, Any]) -> list[dict[str, Any]]:
    def rec(bid: int, project: str, start: str, python: str, sphinx: str, ok: bool = True):
        r = copy.deepcopy(base)
        r["project"] = {"id": int(project[1:]), "slug": project}
        r["build"].update(id=bid, start=start, success=ok)
        r["python"] = python
        r["tools"] = {"python": python}
        for scope in ("top_level", "all"):
            r["packages"]["pip"][scope][0]["version"] = sphinx
        r["packages"]["pip"]["user"][0]["installed"] = sphinx
        return r

    return [
        rec(1, "p1", "2026-11-02T10:00:00Z", "3.7.9", "1.8.5"),
        rec(2, "p1", "2026-11-20T10:00:00Z", "3.12.13", "7.4.7"),
        rec(3, "p2", "2026-11-10T09:00:00Z", "3.7.9", "1.8.5"),
        rec(4, "p2", "2026-11-10T11:00:00Z", "3.7.9", "1.8.5"),  # same-day duplicate of 3
        rec(5, "p3", "2026-11-12T09:00:00Z", "3.7.9", "1.8.5", ok=False),
        rec(6, "p1", "2026-10-01T09:00:00Z", "3.6.15", "1.8.5"),  # outside the window
    ]


def _pipeline(capsys, records_file: str, lake: str, wh: str) -> list[Any]:
    code, out, err = run(capsys, "store", records_file, "--lake", lake)
    assert code == 0, out + err
    assert [ln.split()[0] for ln in out.splitlines()].count("duplicate") == 1
    code, out, err = run(capsys, "import", "--lake", lake, "--warehouse", wh, "--no-progress")
    assert code == 0, out + err
    answers = []
    for report in REPORTS:
        code, out, err = run(capsys, "report", *report, *WINDOW, "--warehouse", wh)
        assert code == 0, err
        answers.append(json.loads(out))
    return answers


def test_store_import_report_on_s3(s3_url, s3_env, tmp_path, capsys, record_dict):
    f = tmp_path / "records.json"
    f.write_text(json.dumps(_records(record_dict)))
    on_s3 = _pipeline(capsys, str(f), f"{s3_url}/lake", f"{s3_url}/warehouse")
    on_disk = _pipeline(capsys, str(f), str(tmp_path / "lake"), str(tmp_path / "wh"))
    assert on_s3 == on_disk
    assert on_s3[0] == [
        {"version": "7.4.7", "projects": 1, "builds": 1},
        {"version": "1.8.5", "projects": 1, "builds": 3},  # p1's first build, p2 + duplicate
    ]
    assert on_s3[1]["projects"] == 1
    assert [a["project"] for a in on_s3[1]["affected"]] == ["p2"]
    # The warehouse really is Parquet objects in the bucket (and a manifest per run).
    prefix = s3_url.split("/", 3)[3]
    listed = s3_env.client().list_objects_v2(Bucket=s3_env.bucket, Prefix=f"{prefix}/warehouse/")
    keys = [o["Key"] for o in listed.get("Contents", [])]
    assert any(k.endswith(".parquet") and "/builds/year=2026/" in k for k in keys)
    assert any("/_manifest/" in k for k in keys)
    # A second import finds nothing new and changes no answer.
    code, out, err = run(
        capsys, "import", "--lake", f"{s3_url}/lake", "--warehouse", f"{s3_url}/warehouse",
        "--no-progress",
    )  # fmt: skip
    assert code == 0, out + err
    code, out, _ = run(capsys, "report", *REPORTS[0], *WINDOW, "--warehouse", f"{s3_url}/warehouse")
    assert json.loads(out) == on_s3[0]


def test_s3_lake_into_local_warehouse(s3_url, tmp_path, capsys, record_dict):
    """Mixed roots: documents from an S3 lake imported into a warehouse on disk."""
    f = tmp_path / "records.json"
    f.write_text(json.dumps(_records(record_dict)))
    code, out, err = run(capsys, "store", str(f), "--lake", f"{s3_url}/lake")
    assert code == 0, out + err
    wh = str(tmp_path / "wh")
    code, out, err = run(capsys, "import", "--lake", f"{s3_url}/lake", "--warehouse", wh)
    assert code == 0, out + err
    code, out, err = run(capsys, "report", *REPORTS[0], *WINDOW, "--warehouse", wh)
    assert code == 0, err
    assert json.loads(out) == [
        {"version": "7.4.7", "projects": 1, "builds": 1},
        {"version": "1.8.5", "projects": 1, "builds": 3},
    ]
    assert list((tmp_path / "wh" / "builds").rglob("*.parquet"))


def test_import_refuses_while_another_writer_holds_the_s3_lock(s3_url, tmp_path, capsys):
    """Two imports on one S3 warehouse never interleave: the second exits with one line."""
    from buildcensus.storage_fs import s3_lock

    wh = f"{s3_url}/wh"
    with s3_lock(wh):
        code, out, err = run(
            capsys, "import", "--lake", str(tmp_path / "lake"), "--warehouse", wh, "--no-progress"
        )
    assert code == 1, out + err
    assert err.startswith(f"error: another import or prune is running on {wh} (lock _lock held")
    assert err.count("\n") == 1
    code, out, err = run(
        capsys, "import", "--lake", str(tmp_path / "lake"), "--warehouse", wh, "--no-progress"
    )
    assert code == 0, out + err  # released: the next run proceeds
