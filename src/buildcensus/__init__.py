"""buildcensus: record what every documentation/CI build used, and answer questions about it."""

from buildcensus.errors import BuildcensusError, ConfigError, LakeError, RecordError
from buildcensus.record import SCHEMA_VERSION, BuildRecord, parse_record

__version__ = "0.1.0"

__all__ = [
    "SCHEMA_VERSION",
    "BuildRecord",
    "BuildcensusError",
    "ConfigError",
    "LakeError",
    "RecordError",
    "__version__",
    "parse_record",
]
