"""Significance of a failure-rate increase: one-sided Fisher exact test, Holm adjustment.

Why Fisher rather than a two-proportion z-test: a bad release must be caught while few builds
have moved to it (tens, not thousands) and failures are rare (a few percent), exactly where the
z-test's normal approximation is anti-conservative and raises false alarms. Fisher's test is
exact given the table's margins. Why Holm: every (package, old, new) candidate in the window is a
test; Holm's step-down adjustment keeps the chance of *any* false alarm in a clean window below
`alpha`, and is never less powerful than Bonferroni.
"""

from __future__ import annotations

import math
from collections.abc import Sequence


def _log_comb(n: int, k: int) -> float:
    return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)


def fisher_greater(
    moved_failures: int, moved_builds: int, stayed_failures: int, stayed_builds: int
) -> float:
    """P(at least `moved_failures` failures among the moved builds | margins, no difference).

    The one-sided p-value of Fisher's exact test for "moved builds fail more often".
    """
    if not (0 <= moved_failures <= moved_builds and 0 <= stayed_failures <= stayed_builds):
        raise ValueError("failures must be between 0 and the number of builds")
    total = moved_builds + stayed_builds
    failures = moved_failures + stayed_failures
    hi = min(failures, moved_builds)
    denom = _log_comb(total, moved_builds)
    logs = [
        _log_comb(failures, k) + _log_comb(total - failures, moved_builds - k) - denom
        for k in range(moved_failures, hi + 1)
        if moved_builds - k <= total - failures
    ]
    if not logs:
        return 1.0
    top = max(logs)
    p = math.exp(top) * sum(math.exp(x - top) for x in logs)
    return min(1.0, p)


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm step-down adjusted p-values (same order as given)."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [1.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted


def score_of(p_adjusted: float) -> float:
    """-log10 of the adjusted p-value: 2 means 1 %, higher is a stronger signal."""
    return round(-math.log10(max(p_adjusted, 1e-300)), 3) + 0.0
