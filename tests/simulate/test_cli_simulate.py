"""`buildcensus simulate` through the real CLI entry point."""

from __future__ import annotations

import orjson
import pytest

from buildcensus.cli import main
from buildcensus.lake import open_lake
from buildcensus.record import parse_record


def run(capsys, *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(list(args))
    out = capsys.readouterr()
    return exc.value.code, out.out, out.err


def test_simulate_into_the_lake(tmp_path, capsys):
    lake = str(tmp_path / "lake")
    args = ("simulate", "--projects", "30", "--days", "3", "--seed", "1", "--end", "2026-11-30")
    code, _, err = run(capsys, *args, "--lake", lake)
    assert code == 0
    assert err.startswith("simulated ") and "2026-11-28..2026-11-30" in err
    keys = list(open_lake(lake).iter_keys())
    assert keys and all(k.startswith("telemetry/") for k in keys)


def test_simulate_ndjson_file_and_stdout(tmp_path, capsys):
    out = tmp_path / "h.ndjson"
    args = ("simulate", "--projects", "20", "--days", "2", "--seed", "9", "--end", "2025-03-10")
    code, _, _ = run(capsys, *args, "--out", str(out))
    assert code == 0
    lines = out.read_bytes().splitlines()
    assert lines and all(parse_record(orjson.loads(x)) for x in lines)
    code, stdout, _ = run(capsys, *args, "--out", "-")
    assert code == 0
    assert stdout.encode().splitlines() == lines


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (("--end", "30/11/2026"), "--end must be a date"),
        (("--plant-regression", "sphinx"), "expects PKG==VERSION"),
        (("--plant-regression", "sphinx==99.0"), "not a known release"),
        (("--projects", "0"), "--projects must be between"),
        (("--end", "2009-12-31"), "must start in 2010 or later"),
    ],
)
def test_simulate_usage_errors(tmp_path, capsys, extra, message):
    code, _, err = run(
        capsys, "simulate", "--days", "1", "--out", str(tmp_path / "x.ndjson"), *extra
    )
    assert code == 2
    assert message in err
    assert "Traceback" not in err


def test_simulate_into_a_lake_of_another_version_says_so(tmp_path, capsys):
    """Same seed, other records (another simulator version): refused, nothing overwritten."""
    lake = tmp_path / "lake"
    args = ("simulate", "--projects", "5", "--days", "2", "--seed", "3", "--end", "2026-11-30")
    assert run(capsys, *args, "--lake", str(lake), "--workers", "1")[0] == 0
    doc = next(p for p in sorted((lake / "telemetry" / "builds").rglob("*.json")))
    data = orjson.loads(doc.read_bytes())
    data["python"] = "2.7.18"  # what an older generator might have written
    doc.write_bytes(orjson.dumps(data))
    before = doc.read_bytes()
    code, _, err = run(capsys, *args, "--lake", str(lake), "--workers", "1")
    assert code != 0
    assert "already stored with different content" in err
    assert "simulated by another version of buildcensus" in err and "new --lake" in err
    assert "Traceback" not in err
    assert doc.read_bytes() == before
