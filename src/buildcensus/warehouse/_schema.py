"""Table schemas of the warehouse (the contract in docs/warehouse.md)."""

from __future__ import annotations

import pyarrow as pa

PARTITIONED = ("builds", "monthly_packages")

BUILD_SET_COLUMNS = (
    "pip_user_set",
    "pip_top_level_set",
    "pip_all_set",
    "conda_user_set",
    "conda_all_set",
    "apt_user_set",
    "apt_all_set",
)

# (set column, ecosystem, scope, lake path of the list)
PACKAGE_LISTS: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    ("pip_user_set", "pip", "user", ("packages", "pip", "user")),
    ("pip_top_level_set", "pip", "top_level", ("packages", "pip", "top_level")),
    ("pip_all_set", "pip", "all", ("packages", "pip", "all")),
    ("conda_user_set", "conda", "user", ("packages", "conda", "user")),
    ("conda_all_set", "conda", "all", ("packages", "conda", "all")),
    ("apt_user_set", "apt", "user", ("packages", "apt", "user")),
    ("apt_all_set", "apt", "all", ("packages", "apt", "all")),
)

_S = pa.string()

# The files of partitioned tables do not hold year/month: those come from the hive path.
SCHEMAS: dict[str, pa.Schema] = {
    "builds": pa.schema(
        [
            ("build_id", _S),
            ("key", _S),
            ("duplicate_of", _S),
            ("project", _S),
            ("project_id", pa.int64()),
            ("version", _S),
            ("version_id", pa.int64()),
            ("organization", _S),
            ("start", pa.timestamp("us")),
            ("day", pa.date32()),
            ("length", pa.float64()),
            ("success", pa.bool_()),
            ("commit", _S),
            ("trigger", _S),
            ("python", _S),
            ("os", _S),
            ("doctool", _S),
            ("theme", _S),
            ("builder", _S),
            ("config_id", _S),
            ("config_version", _S),
            *[(c, _S) for c in BUILD_SET_COLUMNS],
            ("doctool_set", _S),
            ("tools_set", _S),
            ("n_errors", pa.int32()),
            ("redactions", pa.int32()),
            ("collector_seconds", pa.float64()),
            ("steps_json", _S),
        ]
    ),
    "package_sets": pa.schema(
        [
            ("set_id", _S),
            ("ecosystem", _S),
            ("scope", _S),
            ("name", _S),
            ("normalized", _S),
            ("version", _S),
            ("specifier", _S),
            ("channel", _S),
        ]
    ),
    "configs": pa.schema(
        [
            ("config_id", _S),
            ("version", _S),
            ("user_json", _S),
            ("final_json", _S),
            ("has_file", pa.bool_()),
        ]
    ),
    "config_keys": pa.schema([("config_id", _S), ("key", _S)]),
    "config_values": pa.schema(
        [
            ("config_id", _S),
            ("key", _S),
            ("value", _S),
            ("user_set", pa.bool_()),
            ("source", _S),
        ]
    ),
    "doctool_sets": pa.schema([("set_id", _S), ("kind", _S), ("name", _S)]),
    # Every project slug once (with its key): reports group by `project_key` and read the few
    # names they print from here instead of `builds.project` for every build of a window.
    "projects": pa.schema([("project", _S)]),
    "tools_sets": pa.schema([("set_id", _S), ("name", _S), ("version", _S)]),
    "versions": pa.schema(
        [
            ("ecosystem", _S),
            ("version", _S),
            ("sort_key", _S),
            ("is_prerelease", pa.bool_()),
            ("valid", pa.bool_()),
        ]
    ),
    "monthly_packages": pa.schema(
        [
            ("ecosystem", _S),
            ("scope", _S),
            ("normalized", _S),
            ("version", _S),
            ("projects", pa.int64()),
            ("builds", pa.int64()),
            ("success_projects", pa.int64()),
            ("success_builds", pa.int64()),
        ]
    ),
}

#: Per table: (BIGINT key column, the identifier column it is computed from); see `_keys`.
KEY_COLUMNS: dict[str, tuple[tuple[str, str], ...]] = {
    "builds": (
        ("project_key", "project"),
        ("config_key", "config_id"),
        *((f"{c}_key", c) for c in (*BUILD_SET_COLUMNS, "doctool_set", "tools_set")),
    ),
    **{t: (("set_key", "set_id"),) for t in ("package_sets", "doctool_sets", "tools_sets")},
    **{t: (("config_key", "config_id"),) for t in ("configs", "config_keys", "config_values")},
    "projects": (("project_key", "project"),),
}


def _with_keys(table: str, schema: pa.Schema) -> pa.Schema:
    """`schema` followed by the table's BIGINT key columns (see `_keys`)."""
    for key, _ in KEY_COLUMNS.get(table, ()):
        schema = schema.append(pa.field(key, pa.int64()))
    return schema


#: The columns the importer produces itself; the key columns are computed from them on write.
BASE_SCHEMAS: dict[str, pa.Schema] = dict(SCHEMAS)
SCHEMAS = {t: _with_keys(t, s) for t, s in BASE_SCHEMAS.items()}

#: Columns written PLAIN (no dictionary) and uncompressed: every report reads them for each
#: build of its window, and they are nearly unique per row (times, lengths, random 64-bit
#: keys), so dictionaries and zstd save little space there but cost ~15% of a report's CPU.
PLAIN_COLUMNS = frozenset({"start", "length", "project_key"})


def parquet_options(schema: pa.Schema) -> dict[str, object]:
    """`pyarrow.parquet.write_table` options of a part: text zstd-compressed, BIGINT keys and
    `PLAIN_COLUMNS` uncompressed (~13% more bytes for `builds`, reports ~15% less CPU)."""
    names = schema.names
    return {
        "compression": {
            n: "none" if n in PLAIN_COLUMNS or n.endswith("_key") else "zstd" for n in names
        },
        "use_dictionary": [n for n in names if n not in PLAIN_COLUMNS],
    }


#: Warehouse layout written by this version. 2: BIGINT key columns (`_keys.KEY_COLUMNS`);
#: 3: the `projects` table.
LAYOUT = 3
#: The first layout with key columns, and the first with the `projects` table.
KEYS_LAYOUT = 2
PROJECTS_LAYOUT = 3

TABLES = tuple(SCHEMAS)

# Which column identifies the rows of a "set" table (loaded once per id).
SET_ID_COLUMN = {
    "package_sets": "set_id",
    "configs": "config_id",
    "config_keys": "config_id",
    "config_values": "config_id",
    "doctool_sets": "set_id",
    "tools_sets": "set_id",
    "projects": "project",
}

_DUCK_TYPES = {
    pa.string(): "VARCHAR",
    pa.int64(): "BIGINT",
    pa.int32(): "INTEGER",
    pa.float64(): "DOUBLE",
    pa.bool_(): "BOOLEAN",
    pa.timestamp("us"): "TIMESTAMP",
    pa.date32(): "DATE",
}


def duck_columns(table: str) -> list[tuple[str, str]]:
    """(column, DuckDB type) of a table as queries see it (year/month included)."""
    cols = [(f.name, _DUCK_TYPES[f.type]) for f in SCHEMAS[table]]
    if table in PARTITIONED:
        cols += [("year", "INTEGER"), ("month", "INTEGER")]
    return cols
