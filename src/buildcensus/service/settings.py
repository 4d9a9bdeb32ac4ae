"""Settings of the HTTP service: where the data lives, who may call it, and the input limits."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

DEFAULT_LAKE = "./census-data/lake"
DEFAULT_WAREHOUSE = "./census-data/warehouse"


@dataclass(frozen=True)
class Limits:
    """What one request may carry. Every limit is checked before anything is stored."""

    max_body_bytes: int = 8 * 1024 * 1024  # one record (50k-package records fit)
    max_batch_bytes: int = 64 * 1024 * 1024
    max_batch: int = 1000  # records per batch request
    max_depth: int = 32  # JSON nesting (configs are a few levels deep)
    max_string_length: int = 1_000_000  # characters in any string (the raw config text cap)
    max_list_length: int = 50_000  # items in any JSON array (the package-list cap)


@dataclass(frozen=True)
class ServiceSettings:
    """Everything `create_app` needs; the CLI builds one from `buildcensus serve` options."""

    lake_url: str = DEFAULT_LAKE
    warehouse_url: str = DEFAULT_WAREHOUSE
    tokens_file: Path | None = None  # None: no token is valid (every protected route says 401)
    exclude_projects_file: Path | None = None  # opted-out project slugs, one per line
    limits: Limits = Limits()
    public: bool = False  # the dashboard's public mode (aggregates only, no token)
    min_projects: int = 10  # public mode: show values used by at least this many projects
    # A local lake's single records are committed by a writer process (`lake.writer`).
    writer_process: bool = True

    @property
    def max_body_bytes(self) -> int:
        """Largest single-record request body."""
        return self.limits.max_body_bytes

    @property
    def max_batch(self) -> int:
        """Most records in one batch request."""
        return self.limits.max_batch
