"""build-time with a limit ranks only projects that can reach the top: same as ranking all."""

from __future__ import annotations

import random

import pytest

from buildcensus.reports import make_params, run_report

from .sample import WINDOW
from .wh import Warehouse, connect


def _warehouse(tmp_path, seed: int):
    rng = random.Random(seed)
    wh = Warehouse()
    n = 0
    for p in range(rng.randint(1, 60)):
        # heavy-tailed builds per project; some lengths unknown; lengths on a coarse grid so
        # that p95 values tie, and a few exactly 1 ms apart to test the rounding margin
        for _ in range(1 + int(rng.paretovariate(1.2)) % 40):
            n += 1
            r = rng.random()
            length = (
                None
                if r < 0.05
                else rng.choice([10.0, 10.001, 10.0005, 99.9995])
                if r < 0.3
                else round(rng.lognormvariate(3, 1), 3)
            )
            day = rng.randint(1, 29)
            wh.build(str(n), f"proj-{p:02d}", f"2026-11-{day:02d}T{rng.randint(0, 23):02d}:00:00",
                     length=length, success=rng.random() > 0.1)  # fmt: skip
    return connect(wh.write(tmp_path / f"wh{seed}"))


@pytest.mark.parametrize("seed", range(12))
def test_limit_equals_the_head_of_the_full_ranking(tmp_path, seed):
    con = _warehouse(tmp_path, seed)
    try:
        for include_failed in (False, True):
            full = run_report(
                "build-time", make_params(**WINDOW, limit=0, include_failed=include_failed), con
            )
            for limit in (1, 2, 3, 5, 50):
                params = make_params(**WINDOW, limit=limit, include_failed=include_failed)
                assert run_report("build-time", params, con) == full[:limit], (limit, seed)
    finally:
        con.close()
