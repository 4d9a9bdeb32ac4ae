"""forget --project end to end: lake, warehouse, and a later import does not bring it back."""

from __future__ import annotations

import json

import pytest

from buildcensus.cli import main
from buildcensus.warehouse import open_warehouse


def run(capsys, *args: str) -> tuple[int, str]:
    with pytest.raises(SystemExit) as exc:
        main(list(args))
    return exc.value.code, capsys.readouterr().out


def test_forget_everywhere(tmp_path, capsys, record_dict):
    lake, wh = str(tmp_path / "lake"), str(tmp_path / "wh")
    files = []
    for i, slug in enumerate(["gone", "kept", "gone"]):
        d = json.loads(json.dumps(record_dict))
        d["project"]["slug"] = slug
        d["build"].update(id=100 + i, start=f"2026-11-0{i + 1}T10:00:00Z")
        f = tmp_path / f"r{i}.json"
        f.write_text(json.dumps(d))
        files.append(f)
    assert run(capsys, "store", *map(str, files), "--lake", lake)[0] == 0
    assert run(capsys, "import", "--lake", lake, "--warehouse", wh)[0] == 0
    con = open_warehouse(wh).connect()
    assert con.execute("select count(*) from builds where project='gone'").fetchall() == [(2,)]
    con.close()
    code, out = run(capsys, "forget", "--project", "gone", "--lake", lake, "--warehouse", wh)
    assert code == 0
    assert "2 documents" in out and "2 warehouse rows" in out
    # A stale copy re-submitted later is refused, and a re-import does not bring it back.
    code, out = run(capsys, "store", str(files[0]), "--lake", lake)
    assert code == 1 and "opted out" in out
    run(capsys, "import", "--lake", lake, "--warehouse", wh)
    con = open_warehouse(wh).connect()
    rows = con.execute("select project, count(*) from builds group by 1 order by 1").fetchall()
    con.close()
    assert rows == [("kept", 1)]
