"""Where explain reads from: the warehouse when it has the tables needed, else the lake."""

from __future__ import annotations

from typing import Any

import duckdb

from buildcensus.errors import WarehouseError


def warehouse_connection(url: str, tables: tuple[str, ...] = ("builds",)) -> Any | None:
    """A DuckDB connection to the warehouse at `url` with `tables`, or None when it lacks them.

    The warehouse is optional for diffs (the lake is scanned instead), so a missing warehouse,
    or one not imported yet, is not an error here.
    """
    from buildcensus.warehouse import open_warehouse

    try:
        con = open_warehouse(url).connect()
    except WarehouseError:
        return None
    for table in tables:
        try:
            con.execute(f'SELECT * FROM "{table}" LIMIT 0').fetchall()
        except duckdb.Error:
            con.close()
            return None
    return con


def require_warehouse(url: str, tables: tuple[str, ...]) -> Any:
    """A warehouse connection with `tables`; WarehouseError naming what is missing otherwise."""
    con = warehouse_connection(url, tables)
    if con is None:
        raise WarehouseError(
            f"no warehouse with tables {', '.join(tables)} at {url} "
            "(run `buildcensus import` first)"
        )
    return con
