"""A bounded soak of the real service (the full 60 s run is `python bench/soak.py`)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

SOAK = Path(__file__).parents[2] / "bench" / "soak.py"


@pytest.mark.slow
def test_short_soak_zero_5xx_no_loss_flat_memory():
    proc = subprocess.run(
        [sys.executable, str(SOAK), "--seconds", "8", "--clients", "3"],
        capture_output=True,
        text=True,
        timeout=180,
    )
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert summary["requests"] > 50
    assert summary["server_5xx"] == 0
    assert summary["lost"] == 0 and summary["duplicates"] == 0
    assert summary["rss_mb_last_third"] < summary["rss_mb_first_third"] * 1.25
