from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from records import make_records  # noqa: E402

from buildcensus.lake import Lake, LocalStorage  # noqa: E402
from buildcensus.record import parse_record  # noqa: E402
from buildcensus.warehouse import TABLES, Warehouse, open_warehouse  # noqa: E402


def new_lake(path: Path) -> Lake:
    """A lake without fsync (tests only: durability is not what they check)."""
    return Lake(LocalStorage(path, durable=False))


def fill(lake: Lake, records) -> None:
    for r in records:
        lake.store(parse_record(r))


def snapshot(wh: Warehouse) -> dict[str, list[tuple]]:
    """Every table's rows, sorted: equal snapshots mean identical tables."""
    con = wh.connect()
    try:
        return {t: sorted(con.execute(f"SELECT * FROM {t}").fetchall(), key=repr) for t in TABLES}
    finally:
        con.close()


@pytest.fixture(scope="session")
def records():
    """110 records over two months for 30 projects, ~5% same-day duplicates."""
    return make_records(110, seed=5, projects=30, days=50)


@pytest.fixture
def lake(tmp_path, records):
    lk = new_lake(tmp_path / "lake")
    fill(lk, records)
    return lk


@pytest.fixture
def wh(tmp_path):
    return open_warehouse(str(tmp_path / "wh"))
