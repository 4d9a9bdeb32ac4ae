from __future__ import annotations

import copy
from typing import Any

import pytest

BASE_RECORD: dict[str, Any] = {
    "schema_version": 1,
    "project": {"id": 1, "slug": "demo"},
    "version": {"id": 10, "slug": "latest"},
    "build": {
        "id": 42,
        "start": "2026-12-01T10:00:00Z",
        "length": 30.5,
        "success": True,
        "commit": "abc123",
        "trigger": "webhook",
        "steps": [{"name": "install", "seconds": 12.0}],
    },
    "config": {
        "user": {"version": 2, "build": {"os": "ubuntu-24.04", "tools": {"python": "3.12"}}},
        "user_raw": "version: 2\nbuild:\n  os: ubuntu-24.04\n  tools:\n    python: '3.12'\n",
        "final": {"version": "2", "build": {"os": "ubuntu-24.04"}},
        "version": "2",
    },
    "python": "3.12.13",
    "os": "ubuntu-24.04",
    "tools": {"python": "3.12.13"},
    "packages": {
        "pip": {
            "user": [{"name": "Sphinx", "specifier": ">=7,<8", "installed": "7.4.7"}],
            "top_level": [{"name": "Sphinx", "version": "7.4.7"}],
            "all": [
                {"name": "Sphinx", "version": "7.4.7"},
                {"name": "docutils", "version": "0.21.2"},
            ],
        },
        "apt": {"all": [{"name": "libc6", "version": "2.39-0ubuntu8"}]},
    },
    "doctool": {"name": "sphinx", "extensions": ["sphinx.ext.autodoc"], "theme": "furo"},
}


@pytest.fixture
def record_dict() -> dict[str, Any]:
    """A valid record in the current shape (a fresh copy per test)."""
    return copy.deepcopy(BASE_RECORD)
