"""The runner answers without the tie rescan only when no project had a tie; always exact."""

from __future__ import annotations

from dataclasses import replace

import pytest

from buildcensus.reports import make_params, run_report
from buildcensus.reports._runner import _fetch, get_report

from .sample import WINDOW, sample
from .wh import Warehouse, connect

STATE_CASES = [
    ("versions", {"ecosystem": "pip", "package": "sphinx"}),
    ("top", {"ecosystem": "pip", "limit": 0}),
    ("adoption", {"ecosystem": "pip", "package": "sphinx", "by": "week"}),
    ("extensions", {}),
    ("themes", {}),
    ("breakdown", {"by": "python"}),
    ("breakdown", {"by": "config:build.os"}),
    ("config-keys", {}),
]


def _exact(con, name, params):
    report = get_report(name)
    rows = _fetch(con, *report.build(params))
    return [{c: r[c] for c in report.columns} for r in rows], {r["ties_"] for r in rows}


def _fast_ties(con, name, params):
    report = get_report(name)
    return {r["ties_"] for r in _fetch(con, *report.build(replace(params, tie_rescan=False)))}


@pytest.fixture(scope="module")
def tied(tmp_path_factory):
    """The hand-built sample: gamma has two builds at the same start."""
    c = connect(sample().write(tmp_path_factory.mktemp("tied")))
    yield c
    c.close()


@pytest.fixture(scope="module")
def untied(tmp_path_factory):
    wh = Warehouse()
    for i, (project, day, py) in enumerate(
        [("a", 2, "3.8.1"), ("a", 5, "3.12.1"), ("b", 3, "3.11.2"), ("c", 7, "3.11.2")], 1
    ):
        wh.build(str(i), project, f"2026-11-{day:02d}T10:00:00", python=py, theme="furo")
    c = connect(wh.write(tmp_path_factory.mktemp("untied")))
    yield c
    c.close()


@pytest.mark.parametrize(("name", "kw"), STATE_CASES)
def test_ties_force_the_exact_query(tied, name, kw):
    for include_failed in (False, True):
        params = make_params(**WINDOW, **kw, include_failed=include_failed)
        exact, _ = _exact(tied, name, params)
        assert run_report(name, params, tied) == exact


def test_the_sample_has_a_tie_the_fast_query_sees(tied):
    # gamma's two builds at one start differ in their pip set (a tie for `versions`)...
    params = make_params(**WINDOW, ecosystem="pip", package="sphinx")
    assert _fast_ties(tied, "versions", params) == {1}
    assert _exact(tied, "versions", params)[1] == {1}
    # ...but not in their Python: one payload at the latest start is no tie
    assert _fast_ties(tied, "breakdown", make_params(**WINDOW, by="python")) == {0}


def test_without_ties_fast_and_exact_agree(untied):
    params = make_params(**WINDOW, by="python")
    assert _fast_ties(untied, "breakdown", params) == {0}
    report = get_report("breakdown")
    fast = _fetch(untied, *report.build(replace(params, tie_rescan=False)))
    exact, ties = _exact(untied, "breakdown", params)
    assert ties == {0}
    assert [{c: r[c] for c in report.columns} for r in fast] == exact
    assert (
        run_report("breakdown", params, untied)
        == exact
        == [
            {"value": "3.11.2", "projects": 2, "builds": 2},
            {"value": "3.12.1", "projects": 1, "builds": 1},
            {"value": "3.8.1", "projects": 0, "builds": 1},
        ]
    )
