"""Build diffs on hand-built records: version direction by ecosystem rules, deep config paths."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from buildcensus.cli import main
from buildcensus.explain import diff_records, flatten, version_change
from buildcensus.lake import open_lake
from buildcensus.record import parse_record


@pytest.mark.parametrize(
    ("eco", "old", "new", "change"),
    [
        # PEP 440: pre-releases come before the release, dev before pre.
        ("pip", "8.0.0rc1", "8.0.0", "upgraded"),
        ("pip", "8.0.0", "8.0.0rc1", "downgraded"),
        ("pip", "8.0.0.dev3", "8.0.0a1", "upgraded"),
        ("pip", "7.4.7", "8.0.0b2", "upgraded"),
        ("pip", "1.10", "1.9", "downgraded"),
        ("pip", "1.0", "1.0.0", "changed"),  # equal by the rules, spelled differently
        ("pip", "1!0.1", "2.0", "downgraded"),  # an epoch outranks the release
        ("pip", "not a version", "1.0", "changed"),  # no direction from an invalid version
        ("pip", "2.0", "2.0", None),
        # Debian: the epoch outranks everything; ~ sorts before the empty string.
        ("apt", "1:9.9-1", "2:0.1-1", "upgraded"),
        ("apt", "2:0.1-1", "9.9-1", "downgraded"),
        ("apt", "1.0~rc1-1", "1.0-1", "upgraded"),
        ("apt", "2.39-0ubuntu8", "2.39-0ubuntu8.3", "upgraded"),
        # conda: post releases after the release, dev before it.
        ("conda", "1.2.0", "1.2.0.post1", "upgraded"),
        ("conda", "1.2.0", "1.2.0.dev0", "downgraded"),
        ("pip", None, "1.0", "changed"),
    ],
)
def test_version_change_by_ecosystem_rules(eco, old, new, change):
    assert version_change(eco, old, new) == change


@pytest.mark.parametrize(
    ("value", "leaves"),
    [
        ({"a": {"b": 1}}, {"a.b": 1}),
        ({"a": [1, {"b": [True, None]}]}, {"a.0": 1, "a.1.b.0": True, "a.1.b.1": None}),
        ({"a": {}, "b": []}, {"a": {}, "b": []}),
        ({}, {}),
    ],
)
def test_flatten_uses_dotted_paths_with_indices(value, leaves):
    assert flatten(value) == leaves


def _pair(record_dict: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    a = copy.deepcopy(record_dict)
    a["config"]["user"] = {
        "version": 2,
        "build": {"os": "ubuntu-22.04", "jobs": {"post_install": ["echo a", "echo b"]}},
        "python": {"install": [{"requirements": "docs/req.txt"}, {"method": "pip", "path": "."}]},
    }
    a["packages"]["pip"]["user"] = [{"name": "Sphinx", "specifier": ">=7,<8", "installed": "7.4.7"}]
    a["packages"]["pip"]["all"] = [
        {"name": "Sphinx", "version": "7.4.7"},
        {"name": "docutils", "version": "0.21.2"},
        {"name": "furo", "version": "2024.8.6"},
        {"name": "old-thing", "version": "1.0"},
    ]
    a["packages"]["apt"]["all"] = [{"name": "libc6:amd64", "version": "1:2.39-0ubuntu8"}]
    a["tools"] = {"python": "3.11.9", "nodejs": "20.1.0"}
    a["doctool"]["extensions"] = ["sphinx.ext.autodoc", "sphinx.ext.napoleon"]
    b = copy.deepcopy(a)
    b["build"]["id"] = 43
    b["build"]["success"] = False
    b["config"]["user"]["build"]["os"] = "ubuntu-24.04"
    b["config"]["user"]["build"]["jobs"]["post_install"][1] = "echo c"
    b["config"]["user"]["build"]["jobs"]["post_install"].append("echo d")
    b["config"]["user"]["python"]["install"][1]["extra_requirements"] = ["docs"]
    b["packages"]["pip"]["user"] = [
        {"name": "sphinx", "specifier": ">=8.0.0rc1", "installed": "8.0.0rc1"}
    ]
    b["packages"]["pip"]["all"] = [
        {"name": "sphinx", "version": "8.0.0rc1"},
        {"name": "Docutils", "version": "0.20.1"},
        {"name": "furo", "version": "2024.8.6"},
        {"name": "myst-parser", "version": "4.0.0"},
    ]
    b["packages"]["apt"]["all"] = [{"name": "libc6:amd64", "version": "2:2.0-1"}]
    b["python"] = "3.12.7"
    b["tools"] = {"python": "3.12.7", "rust": "1.80"}
    b["doctool"]["extensions"] = ["sphinx.ext.autodoc", "myst_parser"]
    b["doctool"]["theme"] = "sphinx_rtd_theme"
    return parse_record(a).to_json_dict(), parse_record(b).to_json_dict()


def test_diff_packages_by_ecosystem_and_scope(record_dict):
    diff = diff_records(*_pair(record_dict))
    got = {(p["ecosystem"], p["scope"], p["normalized"]): p for p in diff["packages"]}
    assert got[("pip", "all", "sphinx")] == {
        "ecosystem": "pip",
        "scope": "all",
        "name": "sphinx",
        "normalized": "sphinx",
        "change": "upgraded",
        "from": "7.4.7",
        "to": "8.0.0rc1",
    }
    assert got[("pip", "all", "docutils")]["change"] == "downgraded"
    assert got[("pip", "all", "myst-parser")]["change"] == "added"
    assert got[("pip", "all", "myst-parser")]["from"] is None
    assert got[("pip", "all", "old-thing")]["change"] == "removed"
    assert got[("pip", "all", "old-thing")]["to"] is None
    assert ("pip", "all", "furo") not in got
    user = got[("pip", "user", "sphinx")]
    assert user["change"] == "upgraded"
    assert user["specifier"] == {"from": ">=7,<8", "to": ">=8.0.0rc1"}
    # Debian epoch 2 > 1 even though 2.0 < 2.39.
    assert got[("apt", "all", "libc6")]["change"] == "upgraded"
    assert [p["ecosystem"] for p in diff["packages"]] == sorted(
        (p["ecosystem"] for p in diff["packages"]), key=("pip", "conda", "apt").index
    )


def test_diff_config_deep_in_lists(record_dict):
    diff = diff_records(*_pair(record_dict))
    user = {c["key"]: c for c in diff["config"] if c["source"] == "user"}
    assert user["build.os"] == {
        "key": "build.os",
        "source": "user",
        "change": "changed",
        "from": "ubuntu-22.04",
        "to": "ubuntu-24.04",
    }
    assert user["build.jobs.post_install.1"]["from"] == "echo b"
    assert user["build.jobs.post_install.1"]["to"] == "echo c"
    assert user["build.jobs.post_install.2"]["change"] == "added"
    assert user["python.install.1.extra_requirements.0"]["to"] == "docs"
    assert "build.jobs.post_install.0" not in user
    assert "python.install.0.requirements" not in user
    assert set(user) == {
        "build.os",
        "build.jobs.post_install.1",
        "build.jobs.post_install.2",
        "python.install.1.extra_requirements.0",
    }


def test_diff_python_os_tools_doctool(record_dict):
    diff = diff_records(*_pair(record_dict))
    assert diff["python"] == {"from": "3.12.13", "to": "3.12.7"}
    assert diff["os"] == {"from": "ubuntu-24.04", "to": "ubuntu-24.04"}
    tools = {t["name"]: t for t in diff["tools"]}
    assert tools["python"]["change"] == "upgraded"
    assert tools["nodejs"]["change"] == "removed"
    assert tools["rust"]["change"] == "added"
    assert diff["doctool"]["extensions"] == {
        "added": ["myst_parser"],
        "removed": ["sphinx.ext.napoleon"],
    }
    assert diff["doctool"]["theme"] == {"from": "furo", "to": "sphinx_rtd_theme"}
    assert diff["doctool"]["name"] == {"from": "sphinx", "to": "sphinx"}
    assert diff["build"]["to"]["success"] is False
    assert diff["summary"]["python"] == 1 and diff["summary"]["os"] == 0
    assert diff["summary"]["changed"] is True


def test_identical_builds_have_an_empty_diff(record_dict):
    rec = parse_record(record_dict).to_json_dict()
    diff = diff_records(rec, copy.deepcopy(rec))
    assert diff["packages"] == [] and diff["config"] == [] and diff["tools"] == []
    assert diff["summary"]["changed"] is False


def run(capsys, *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(list(args))
    out = capsys.readouterr()
    return exc.value.code, out.out, out.err


def test_cli_diff_json_and_table(tmp_path, capsys, record_dict):
    a, b = _pair(record_dict)
    lake = open_lake(str(tmp_path / "lake"))
    for rec in (a, b):
        lake.store(parse_record(rec))
    code, out, err = run(
        capsys, "diff", "42", "43", "--format", "json", "--lake", lake_dir(tmp_path)
    )
    assert code == 0, err
    data = json.loads(out)
    assert {"packages", "config", "python", "os", "tools", "doctool"} <= set(data)
    assert data == json.loads(json.dumps(diff_records(lake.get("42"), lake.get("43"))))
    code, out, _ = run(capsys, "diff", "42", "43", "--lake", lake_dir(tmp_path))
    assert code == 0
    assert "user: build.jobs.post_install.1" in out
    assert "8.0.0rc1" in out and "upgraded" in out


def lake_dir(tmp_path) -> str:
    return str(tmp_path / "lake")


def test_cli_diff_errors(tmp_path, capsys, record_dict):
    code, _, err = run(capsys, "diff", "1", "2", "--lake", lake_dir(tmp_path))
    assert code == 1 and err.startswith("error: no build with id 1")
    code, _, err = run(capsys, "diff", "1", "--lake", lake_dir(tmp_path))
    assert code == 2 and "give two builds" in err
    code, _, err = run(capsys, "diff", "--last-good", "--lake", lake_dir(tmp_path))
    assert code == 2 and "--project" in err
