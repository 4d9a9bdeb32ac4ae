"""DuckDB relations over committed Parquet parts (pure SQL builders + a connection helper)."""

from __future__ import annotations

from collections.abc import Sequence

import duckdb

from buildcensus.warehouse._schema import PARTITIONED, TABLES, duck_columns


def quote(text: str) -> str:
    """A SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def relation_sql(table: str, files: Sequence[str]) -> str:
    """A SELECT over a table's files; typed and empty when there are none."""
    cols = duck_columns(table)
    if not files:
        body = ", ".join(f"CAST(NULL AS {t}) AS {_ident(c)}" for c, t in cols)
        return f"SELECT {body} WHERE false"
    names = ", ".join(_ident(c) for c, _ in cols)
    listing = "[" + ", ".join(quote(f) for f in files) + "]"
    hive = (
        ", hive_partitioning=true, hive_types={'year': INTEGER, 'month': INTEGER}"
        if table in PARTITIONED
        else ", hive_partitioning=false"
    )
    # Every committed part of a table has the table's schema (older layouts are upgraded by
    # the next import before anything reads them), so the first file's schema is the table's:
    # binding does not read every footer (union_by_name would), which halves a report's
    # planning time.
    return f"SELECT {names} FROM read_parquet({listing}, union_by_name=false{hive})"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def new_connection(threads: int | None = None) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB that never downloads extensions.

    Parquet footers are cached per connection (`parquet_metadata_cache`): a report reads the
    same parts several times (state, tie rescan, impact's resolve queries), and committed parts
    never change (a rewrite gets a new name).
    """
    config = {"autoinstall_known_extensions": "false", "autoload_known_extensions": "false"}
    if threads:
        config["threads"] = str(threads)
    con = duckdb.connect(":memory:", config=config)
    con.execute("SET parquet_metadata_cache = true")
    return con


def create_views(
    con: duckdb.DuckDBPyConnection, files: dict[str, list[str]], tables: Sequence[str] = TABLES
) -> None:
    """One view per table over the given files."""
    for table in tables:
        con.execute(
            f"CREATE OR REPLACE VIEW {table} AS {relation_sql(table, files.get(table, []))}"
        )


BUILD_PACKAGES_VIEW = """
CREATE OR REPLACE VIEW build_packages AS
SELECT b.key, b.build_id, b.project, b.version AS project_version, b.start, b.day, b.year,
       b.month, b.success, b.duplicate_of, p.ecosystem, p.scope, p.name, p.normalized,
       p.version, p.specifier, p.channel
FROM (
    SELECT *, unnest([pip_user_set, pip_top_level_set, pip_all_set, conda_user_set,
                      conda_all_set, apt_user_set, apt_all_set]) AS set_id
    FROM builds
) b
JOIN package_sets p ON p.set_id = b.set_id
"""
