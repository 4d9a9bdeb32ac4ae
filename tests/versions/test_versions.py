from __future__ import annotations

import functools
import itertools
import random
import shutil
import subprocess

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from packaging.version import InvalidVersion, Version

from buildcensus.versions import compare, is_prerelease, is_valid, matches, sort_key


def _sign(x: int) -> int:
    return (x > 0) - (x < 0)


# --------------------------------------------------------------------------- pip (PEP 440)


def pip_versions() -> list[str]:
    """A few hundred realistic PEP 440 strings (plus spelling variants and invalid ones)."""
    rng = random.Random(440)
    out = {
        "1.0",
        "1.0.0",
        "1",
        "1.0.post1",
        "1.0.post0",
        "1.0-1",
        "1.0.dev0",
        "1.0a1",
        "1.0a1.dev3",
        "1.0b2",
        "1.0rc1",
        "1.0RC1",
        "1.0c1",
        "1.0.0rc1.post1",
        "1.0+local",
        "1.0+abc.5",
        "1.0+abc.10",
        "1.0+5",
        "1.0+5.abc",
        "1!0.1",
        "2!1.0",
        "0!1.0",
        "v1.0",
        "1.0-alpha.2",
        "1.0.post1.dev2",
        "1.0rc1.dev1",
        "2.0.0b1",
        "2.1.3",
        "2024.8.6",
        "0.7.13",
        "0.960923",
        "1.1.dev1",
        "1.1a1",
        "1.1",
        "1.10",
        "1.9",
        "1.01",
        "2.0.0",
        "not a version",
        "1.0-",
        "latest",
        "",
        "1..0",
        "1.0_beta",
    }
    for _ in range(300):
        rel = ".".join(
            str(rng.choice([0, 1, 2, 3, 9, 10, 11, 2024])) for _ in range(rng.randint(1, 4))
        )
        v = rel
        if rng.random() < 0.1:
            v = f"{rng.randint(1, 2)}!{v}"
        r = rng.random()
        if r < 0.25:
            v += rng.choice(["a", "b", "rc", "alpha", "beta", "c", "pre"]) + str(rng.randint(0, 12))
        if rng.random() < 0.2:
            v += f".post{rng.randint(0, 3)}"
        if rng.random() < 0.2:
            v += f".dev{rng.randint(0, 3)}"
        if rng.random() < 0.1:
            v += "+" + rng.choice(["ubuntu", "cpu", "cu121", "1", "abc.2", "7.x"])
        out.add(v)
    return sorted(out)


PIP = pip_versions()


def _pip_ref(a: str, b: str) -> int:
    """Reference: packaging.version; invalid strings first, by their text."""

    def parse(s: str):
        try:
            return (1, Version(s), "")
        except InvalidVersion:
            return (0, None, s.encode().hex())

    pa, pb = parse(a), parse(b)
    if pa[0] != pb[0]:
        return pa[0] - pb[0]
    if pa[0] == 0:
        return _sign((pa[2] > pb[2]) - (pa[2] < pb[2]))
    return (pa[1] > pb[1]) - (pa[1] < pb[1])


def test_pip_order_matches_packaging_on_every_pair():
    assert len(PIP) > 250
    for a, b in itertools.combinations(PIP, 2):
        assert _sign(compare("pip", a, b)) == _pip_ref(a, b), (a, b)


def test_pip_sorted_by_key_equals_sorted_by_packaging():
    valid = [v for v in PIP if is_valid("pip", v)]
    by_key = sorted(valid, key=lambda v: (sort_key("pip", v), v))
    by_ref = sorted(valid, key=lambda v: (Version(v), sort_key("pip", v), v))
    assert by_key == by_ref
    invalid = [v for v in PIP if not is_valid("pip", v)]
    assert invalid and max(sort_key("pip", v) for v in invalid) < min(
        sort_key("pip", v) for v in valid
    )


@settings(max_examples=150, deadline=None)
@given(
    st.tuples(
        st.integers(0, 2),
        st.lists(st.integers(0, 30), min_size=1, max_size=4),
        st.one_of(st.none(), st.tuples(st.sampled_from(["a", "b", "rc"]), st.integers(0, 20))),
        st.one_of(st.none(), st.integers(0, 5)),
        st.one_of(st.none(), st.integers(0, 5)),
        st.one_of(
            st.none(),
            st.lists(st.sampled_from(["abc", "1", "22", "x", "cpu"]), min_size=1, max_size=3),
        ),
    ),
    st.tuples(
        st.integers(0, 2),
        st.lists(st.integers(0, 30), min_size=1, max_size=4),
        st.one_of(st.none(), st.tuples(st.sampled_from(["a", "b", "rc"]), st.integers(0, 20))),
        st.one_of(st.none(), st.integers(0, 5)),
        st.one_of(st.none(), st.integers(0, 5)),
        st.one_of(
            st.none(),
            st.lists(st.sampled_from(["abc", "1", "22", "x", "cpu"]), min_size=1, max_size=3),
        ),
    ),
)
def test_pip_property_key_order_is_packaging_order(x, y):
    def text(parts) -> str:
        epoch, rel, pre, post, dev, local = parts
        v = (f"{epoch}!" if epoch else "") + ".".join(map(str, rel))
        v += f"{pre[0]}{pre[1]}" if pre else ""
        v += f".post{post}" if post is not None else ""
        v += f".dev{dev}" if dev is not None else ""
        v += "+" + ".".join(local) if local else ""
        return v

    a, b = text(x), text(y)
    assert _sign(compare("pip", a, b)) == _pip_ref(a, b)
    assert (sort_key("pip", a) == sort_key("pip", b)) == (Version(a) == Version(b))


# --------------------------------------------------------------------------- apt (dpkg)


def apt_versions() -> list[str]:
    rng = random.Random(7)
    out = {
        "2.35-0ubuntu3.8",
        "2.39-0ubuntu8.3",
        "2.39-0ubuntu8",
        "1:2.34.1-1ubuntu1.11",
        "1:2.43.0-1ubuntu7.1",
        "3.10.6-1~22.04.1",
        "3.10.6-1~22.04",
        "3.10.6-1",
        "3.12.3-0ubuntu2",
        "2.42.2-6ubuntu0.1",
        "1.0~rc1-1",
        "1.0-1",
        "1.0~~-1",
        "1.0~-1",
        "1.0",
        "1.0.0",
        "1.0a",
        "1.0+dfsg-2",
        "1.0+dfsg1-2",
        "1.0+b1",
        "0",
        "00",
        "1.00",
        "1.0-0",
        "1.0-",
        "7.81.0-1ubuntu1.16",
        "9.0.1000-4ubuntu3",
        "1:9.0.1000-4ubuntu3",
        "2:1.0",
        "1.2.3.4.5",
        "20230311ubuntu0.22.04.1",
        "5.1-6ubuntu1.1",
        "1.0~beta2+dfsg-1",
        "1.0~beta10+dfsg-1",
        "a1",
        "1.0-1.1",
        "1.0-1+deb12u1",
        "1.0-1~bpo11+1",
        "4.2.1-0ubuntu0.1",
        "0.9.8",
        "0.10.0",
    }
    for _ in range(300):
        up = ".".join(str(rng.choice([0, 1, 2, 9, 10, 42, 2024])) for _ in range(rng.randint(1, 4)))
        if rng.random() < 0.3:
            up += rng.choice(["~rc1", "~beta2", "+dfsg", "+ds1", "a", "~", "+git20240101", "b"])
        v = up
        if rng.random() < 0.7:
            v += "-" + rng.choice(
                ["1", "2", "0ubuntu1", "1ubuntu0.2", "1~22.04.1", "3+deb12u1", "1build1"]
            )
        if rng.random() < 0.15:
            v = f"{rng.randint(1, 3)}:{v}"
        out.add(v)
    return sorted(v for v in out if not v.endswith("-"))


APT = apt_versions()
needs_dpkg = pytest.mark.skipif(shutil.which("dpkg") is None, reason="needs dpkg")


@functools.cache
def _dpkg(a: str, op: str, b: str) -> bool:
    return subprocess.run(["dpkg", "--compare-versions", a, op, b], check=False).returncode == 0


@needs_dpkg
def test_apt_sorted_by_key_is_dpkg_order():
    """Adjacent pairs of the key order agree with dpkg (lt vs eq), so the whole order does."""
    assert len(APT) > 250
    ordered = sorted(APT, key=lambda v: (sort_key("apt", v), v))
    for a, b in itertools.pairwise(ordered):
        if sort_key("apt", a) == sort_key("apt", b):
            assert _dpkg(a, "eq", b), (a, b)
        else:
            assert _dpkg(a, "lt", b), (a, b)


@needs_dpkg
def test_apt_random_pairs_match_dpkg():
    rng = random.Random(3)
    for _ in range(150):
        a, b = rng.choice(APT), rng.choice(APT)
        c = compare("apt", a, b)
        assert _dpkg(a, {-1: "lt", 0: "eq", 1: "gt"}[c], b), (a, b, c)


def test_apt_tilde_and_epoch_rules():
    assert compare("apt", "1.0~rc1", "1.0") < 0
    assert compare("apt", "1.0~~", "1.0~") < 0
    assert compare("apt", "1:0.1", "9.9") > 0
    assert compare("apt", "1.0", "1.0-0") == 0
    assert compare("apt", "1.0", "1.0.0") < 0
    assert not is_valid("apt", "1.0 beta")
    assert sort_key("apt", "not valid!") < sort_key("apt", "0")


# --------------------------------------------------------------------------- conda

CONDA_DOC_ORDER = [
    # conda's VersionOrder docstring; "==" marks an equal neighbour.
    "0.4",
    "==0.4.0",
    "0.4.1.rc",
    "==0.4.1.RC",
    "0.4.1",
    "0.5a1",
    "0.5b3",
    "0.5C1",
    "0.5",
    "0.9.6",
    "0.960923",
    "1.0",
    "1.1dev1",
    "1.1_",
    "1.1a1",
    "1.1.0dev1",
    "==1.1.dev1",
    "1.1.a1",
    "1.1.0rc1",
    "1.1.0",
    "==1.1",
    "1.1.0post1",
    "==1.1.post1",
    "1.1post1",
    "1996.07.12",
    "1!0.4.1",
    "1!3.1.1.6",
    "2!0.4.1",
]


def test_conda_documented_order():
    prev = None
    for item in CONDA_DOC_ORDER:
        equal = item.startswith("==")
        v = item.removeprefix("==")
        if prev is not None:
            assert compare("conda", prev, v) == (0 if equal else -1), (prev, v)
        prev = v
    keys = [sort_key("conda", v.removeprefix("==")) for v in CONDA_DOC_ORDER]
    assert keys == sorted(keys)


def test_conda_rules():
    assert compare("conda", "1.0.1a", "1.0.1") < 0  # letters are pre-release-like in conda
    assert compare("conda", "1.0-1", "1.0_1") == 0  # '-' becomes '_' without underscores
    assert compare("conda", "1.0+2", "1.0+10") < 0  # local compared after the main version
    assert compare("conda", "1.0dev", "1.0_") < 0  # dev < _ < a
    assert compare("conda", "1.0_", "1.0a") < 0
    assert compare("conda", "1.0.*", "1.0.dev") < 0  # '*' sorts first
    assert not is_valid("conda", "1.0$")
    assert not is_valid("conda", "1!2!3")


# --------------------------------------------------------------------------- API


@pytest.mark.parametrize(
    ("eco", "version", "spec", "expected"),
    [
        ("pip", "1.8", "<2", True),
        ("pip", "2.0", "<2", False),
        ("pip", "2.0rc1", "<2", False),  # PEP 440: <2 excludes pre-releases of 2
        ("pip", "1.9rc1", "<2", True),
        ("pip", "7.4.7", ">=7,<8", True),
        ("pip", "7.4.7", "==7.*", True),
        ("pip", "7.4.7", "~=7.3", True),
        ("pip", "not-a-version", "<2", False),
        ("pip", "1.8", "1.8", True),
        ("apt", "2.39-0ubuntu8", ">=2.36", True),
        ("apt", "2.35-0ubuntu3", ">=2.36", False),
        ("apt", "1.0~rc1", "<<1.0", True),
        ("apt", "1:1.0", ">>9", True),
        ("apt", "1.0-1", "=1.0-1", True),
        ("conda", "1.8.2", "1.8.*", True),
        ("conda", "1.9", "1.8.*", False),
        ("conda", "1.8.2", "1.8", True),  # conda: a bare version is a prefix match
        ("conda", "1.10", "1.1", False),
        ("conda", "1.9", "1.8|>=1.9,<2", True),
        ("conda", "2.0", "1.8|>=1.9,<2", False),
        ("conda", "3.0.14", ">=3,<3.1", True),
        ("conda", "1.0dev1", "<1.0", True),
    ],
)
def test_matches(eco, version, spec, expected):
    assert matches(eco, version, spec) is expected


@pytest.mark.parametrize(
    ("eco", "version", "expected"),
    [
        ("pip", "2.0.0b1", True),
        ("pip", "1.0.dev0", True),
        ("pip", "1.0.post1", False),
        ("pip", "garbage", False),
        ("apt", "1.0~rc1-1", True),
        ("apt", "1.0-1~bpo11+1", False),
        ("conda", "1.1rc1", True),
        ("conda", "1.1.dev0", True),
        ("conda", "1.1", False),
        ("conda", "1.1.post1", False),
    ],
)
def test_is_prerelease(eco, version, expected):
    assert is_prerelease(eco, version) is expected


def test_errors_and_key_shape():
    with pytest.raises(ValueError, match="unknown ecosystem"):
        sort_key("npm", "1.0")
    with pytest.raises(ValueError, match="invalid version specifier"):
        matches("pip", "1.0", "<<<2")
    for eco, versions in (("pip", PIP), ("apt", APT)):
        for v in versions:
            key = sort_key(eco, v)
            assert key.isascii() and key.isprintable()
