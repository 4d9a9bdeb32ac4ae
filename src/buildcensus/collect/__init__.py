"""Collect: record what a build really used, fast, without ever breaking the build.

`collect(CollectOptions(...))` runs every probe concurrently (pip metadata in one interpreter
run, conda, dpkg-query, os-release, the config file, requirement files, conf.py / mkdocs.yml
read statically) and returns a validated `BuildRecord`; failures become `errors` entries.
"""

from __future__ import annotations

from buildcensus.collect._collector import Collected, CollectOptions, collect
from buildcensus.collect._mkdocs import MkDocsSettings, read_mkdocs
from buildcensus.collect._requirements import (
    ParsedRequirements,
    parse_requirements_file,
    parse_requirements_text,
)
from buildcensus.collect._run import ProbeFailure, Runner
from buildcensus.collect._sphinx import SphinxSettings, read_conf, read_conf_source
from buildcensus.collect._write import write_atomic

__all__ = [
    "CollectOptions",
    "Collected",
    "MkDocsSettings",
    "ParsedRequirements",
    "ProbeFailure",
    "Runner",
    "SphinxSettings",
    "collect",
    "parse_requirements_file",
    "parse_requirements_text",
    "read_conf",
    "read_conf_source",
    "read_mkdocs",
    "write_atomic",
]
