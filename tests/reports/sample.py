"""A small warehouse whose every report answer is worked out by hand in test_known_answers.py.

Window used by the tests: [2026-11-01, 2026-12-01). Projects:
- alpha: sphinx 1.8.5 (Nov 2) -> 7.0.0 (Nov 20); a failed build on Nov 25 with sphinx 1!0.5 (epoch).
- beta: sphinx 1.8.5 twice on Nov 10 (the second a stored duplicate), one build in October.
- gamma: two builds with the same start; the larger id ("10" > "9") is the state.
  "9" uses the pre-release 7.1.0rc1, "10" uses 7.0.0; conda packages.
- delta: MkDocs, one build exactly at `since` (in) and one exactly at `until` (out).
- epsilon: only a failed build.
"""

from __future__ import annotations

from .wh import Warehouse

SINCE, UNTIL = "2026-11-01", "2026-12-01"
WINDOW = {"since": SINCE, "until": UNTIL}


def sample() -> Warehouse:
    """The hand-built warehouse."""
    wh = Warehouse()
    ps = wh.package_set
    ps("P1", "pip", "all", [("sphinx", "1.8.5"), ("docutils", "0.16")])
    ps("P2", "pip", "all", [("Sphinx", "7.0.0"), ("docutils", "0.20.1")])
    ps("P3", "pip", "all", [("sphinx", "1!0.5"), ("docutils", "0.20.1")])
    ps("P4", "pip", "all", [("sphinx", "7.1.0rc1"), ("docutils", "0.20.1")])
    ps(
        "P5",
        "pip",
        "all",
        [("sphinx", "7.0.0"), ("sphinx_rtd_theme", "2.0.0"), ("docutils", "0.20.1")],
    )
    ps("U1", "pip", "user", [("sphinx", "1.8.5")])
    ps("K1", "conda", "all", [("numpy", "1.26.0"), ("python", "3.11.4")])
    ps("A1", "apt", "all", [("libgraphviz-dev", "2.42.2-3build2"), ("libc6", "2.31-0ubuntu9")])
    wh.config(
        "C1",
        ["version", "build.os", "python.system_packages"],
        {"version": "2", "build.os": "ubuntu-20.04"},
    )
    wh.config(
        "C2",
        ["version", "build.os", "build.tools.python"],
        {"version": "2", "build.os": "ubuntu-22.04"},
    )
    wh.config("C3", ["version", "build.os"], {"version": "2", "build.os": "ubuntu-20.04"})
    wh.doctool_set(
        "D1",
        [
            ("extension", "sphinx.ext.autodoc"),
            ("extension", "sphinx.ext.napoleon"),
            ("theme", "sphinx_rtd_theme"),
        ],
    )
    wh.doctool_set("D2", [("extension", "sphinx.ext.autodoc"), ("theme", "furo")])
    wh.doctool_set("D3", [("plugin", "search"), ("theme", "material")])
    wh.tools_set("T1", {"python": "3.7.9"})
    wh.tools_set("T2", {"python": "3.11.4", "nodejs": "20.1.0"})

    old = dict(
        python="3.7.9",
        os="ubuntu-20.04",
        pip_all_set="P1",
        pip_user_set="U1",
        apt_all_set="A1",
        doctool="sphinx",
        doctool_set="D1",
        tools_set="T1",
        theme="sphinx_rtd_theme",
        config_version="2",
    )
    new = dict(
        python="3.11.4",
        os="ubuntu-22.04",
        pip_all_set="P2",
        config_id="C2",
        doctool="sphinx",
        doctool_set="D2",
        tools_set="T2",
        theme="furo",
        config_version="2",
    )
    b = wh.build
    b("1", "alpha", "2026-11-02T10:00:00", length=100.0, config_id="C1", **old)
    b("5", "alpha", "2026-11-20T10:00:00", length=200.0, **new)
    b(
        "7",
        "alpha",
        "2026-11-25T10:00:00",
        length=5.0,
        success=False,
        **{**new, "pip_all_set": "P3"},
    )
    b("2", "beta", "2026-11-10T09:00:00", length=50.0, config_id="C3", **old)
    b(
        "3",
        "beta",
        "2026-11-10T09:30:00",
        length=50.0,
        config_id="C3",
        duplicate_of="telemetry/builds/2026/11/2026-11-10-2.json",
        **old,
    )
    b("0", "beta", "2026-10-15T09:00:00", length=999.0, **{**new, "python": "3.6.15"})
    b(
        "9",
        "gamma",
        "2026-11-15T12:00:00",
        length=10.0,
        conda_all_set="K1",
        **{**new, "pip_all_set": "P4"},
    )
    b("10", "gamma", "2026-11-15T12:00:00", length=30.0, conda_all_set="K1", **new)
    b(
        "4",
        "delta",
        "2026-11-01T00:00:00",
        length=20.0,
        python="3.12.1",
        os="ubuntu-24.04",
        pip_all_set="P5",
        doctool="mkdocs",
        doctool_set="D3",
        theme="material",
        trigger="manual",
    )
    b("11", "delta", "2026-12-01T00:00:00", length=20.0, **old)
    b("8", "epsilon", "2026-11-05T08:00:00", length=1000.0, success=False, config_id="C1", **old)
    return wh
