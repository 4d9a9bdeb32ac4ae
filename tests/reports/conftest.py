"""Fixtures: hand-made warehouses (see wh.py), no importer needed."""

from __future__ import annotations

import duckdb
import pytest

from .wh import Warehouse, connect


@pytest.fixture
def make_wh(tmp_path):
    """Write a `Warehouse` and return a connection on it."""
    cons = []

    def make(wh: Warehouse, name: str = "wh") -> duckdb.DuckDBPyConnection:
        con = connect(wh.write(tmp_path / name))
        cons.append(con)
        return con

    yield make
    for c in cons:
        c.close()
