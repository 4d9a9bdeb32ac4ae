"""Integer keys for the warehouse's string identifiers (project slugs, set and config ids).

Reports group ~millions of builds by project and by package/config set; DuckDB (and Spark)
aggregate on 64-bit integers about twice as fast as on long strings. So the importer stores,
next to each identifier column, a BIGINT key: the first 8 bytes of BLAKE2b of the identifier's
UTF-8 text, as a signed integer. The key is a pure function of the text, so every import run
(and every engine) agrees on it without a shared dictionary, and the string columns stay the
public identifiers. Two different identifiers share a key with probability about
n² / 2⁶⁵ (n distinct identifiers): about 3 in 100 million for a million projects.
"""

from __future__ import annotations

from functools import lru_cache
from hashlib import blake2b

import pyarrow as pa
import pyarrow.compute as pc

from buildcensus.warehouse._schema import KEY_COLUMNS, SCHEMAS


@lru_cache(maxsize=1 << 18)
def key_of(text: str) -> int:
    """The BIGINT key of an identifier (stable across runs, processes and versions)."""
    return int.from_bytes(blake2b(text.encode(), digest_size=8).digest(), "big", signed=True)


def key_array(column: pa.ChunkedArray | pa.Array) -> pa.Array:
    """Keys of a string column (NULL stays NULL); each distinct value is hashed once."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    enc = pc.dictionary_encode(column)
    keys = pa.array([key_of(v) for v in enc.dictionary.to_pylist()], type=pa.int64())
    return pc.take(keys, enc.indices)


def append_keys(table: str, data: pa.Table) -> pa.Table:
    """`data` with the table's key columns appended, computed from its identifier columns."""
    for key, source in KEY_COLUMNS.get(table, ()):
        data = data.append_column(pa.field(key, pa.int64()), key_array(data.column(source)))
    return data


def add_keys(table: str, data: pa.Table) -> pa.Table:
    """`data` (a table's columns without its keys) with the key columns, in schema order."""
    return append_keys(table, data).select(SCHEMAS[table].names)
