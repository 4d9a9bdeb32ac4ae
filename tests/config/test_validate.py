"""Table-driven tests of the version 2 rules (expected values derived from CONFIG_RULES.md)."""

from __future__ import annotations

from typing import Any

import pytest

from buildcensus.config import load_platform, normalize_path, normalize_pattern, validate_v2
from buildcensus.errors import ConfigError

PLATFORM = load_platform()
BASE = PLATFORM.checkout_path
OS = {"os": "ubuntu-24.04"}
PY = {"os": "ubuntu-24.04", "tools": {"python": "3.12"}}


def final(data: dict[str, Any], brownout: bool = False) -> dict[str, Any]:
    return validate_v2(data, PLATFORM, BASE, brownout=brownout)


def error(data: Any, brownout: bool = False) -> tuple[str, str]:
    with pytest.raises(ConfigError) as info:
        validate_v2(data, PLATFORM, BASE, brownout=brownout)
    assert "\n" not in str(info.value)
    return info.value.message_id, info.value.key


def test_minimal_final_has_every_default_in_platform_order() -> None:
    # Derived by hand from CONFIG_RULES.md (defaults of every section).
    got = final({"version": 2, "build": PY})
    assert got == {
        "version": "2",
        "formats": [],
        "python": {"install": []},
        "conda": None,
        "build": {
            "os": "ubuntu-24.04",
            "tools": {"python": {"version": "3.12", "full_version": "3.12.13"}},
            "jobs": {
                "pre_checkout": [],
                "post_checkout": [],
                "pre_system_dependencies": [],
                "post_system_dependencies": [],
                "pre_create_environment": [],
                "create_environment": None,
                "post_create_environment": [],
                "pre_install": [],
                "install": None,
                "post_install": [],
                "pre_build": [],
                "build": {"html": None, "pdf": None, "epub": None, "htmlzip": None},
                "post_build": [],
            },
            "apt_packages": [],
            "commands": [],
        },
        "doctype": "sphinx",
        "sphinx": {"configuration": None, "builder": "sphinx", "fail_on_warning": False},
        "mkdocs": None,
        "submodules": {"include": [], "exclude": "all", "recursive": False},
        "search": {
            "ranking": {},
            "ignore": ["search.html", "search/index.html", "404.html", "404/index.html"],
        },
    }
    assert list(got) == [
        "version",
        "formats",
        "python",
        "conda",
        "build",
        "doctype",
        "sphinx",
        "mkdocs",
        "submodules",
        "search",
    ]
    assert list(got["build"]) == ["os", "tools", "jobs", "apt_packages", "commands"]


@pytest.mark.parametrize(
    ("version", "ok"),
    [(2, True), ("2", True), (2.0, True), (1, False), ("1", False), (3, False), (None, False)],
)
def test_version(version: Any, ok: bool) -> None:
    data = {"version": version, "build": PY}
    if ok:
        assert final(data)["version"] == "2"
    else:
        assert error(data) == ("config:base:invalid-version", "version")


def test_missing_version_means_2() -> None:
    assert final({"build": PY})["version"] == "2"


@pytest.mark.parametrize(
    ("formats", "expected"),
    [
        ("all", ["htmlzip", "pdf", "epub"]),
        ([], []),
        (["pdf", "pdf", "epub"], ["pdf", "pdf", "epub"]),
        ("pdf", "config:validation:invalid-list"),
        (None, "config:validation:invalid-list"),
        ({"pdf": 1}, "config:validation:invalid-list"),
        (["html"], "config:validation:invalid-choice"),
        (["none"], "config:validation:invalid-choice"),
    ],
)
def test_formats(formats: Any, expected: Any) -> None:
    data = {"version": 2, "formats": formats, "build": PY}
    if isinstance(expected, list):
        assert final(data)["formats"] == expected
    else:
        assert error(data) == (expected, "formats")


@pytest.mark.parametrize(
    ("build", "expected"),
    [
        (None, ("config:validation:invalid-dict", "build")),
        ("ubuntu", ("config:validation:invalid-dict", "build")),
        ({"tools": {"python": "3"}}, ("config:validation:value-not-found", "build.os")),
        (
            {"os": "ubuntu-20.04", "tools": {"python": "3"}},
            ("config:validation:invalid-choice", "build.os"),
        ),  # noqa: E501
        ({"os": "ubuntu-24.04"}, ("config:build:missing-build-tools-commands", "build")),
        (
            {"os": "ubuntu-24.04", "tools": None},
            ("config:build:missing-build-tools-commands", "build"),
        ),  # noqa: E501
        (
            {"os": "ubuntu-24.04", "tools": {}},
            ("config:build:missing-build-tools-commands", "build"),
        ),  # noqa: E501
        (
            {"os": "ubuntu-24.04", "tools": ["python"]},
            ("config:validation:invalid-dict", "build.tools"),
        ),  # noqa: E501
        (
            {"os": "ubuntu-24.04", "tools": {"java": "17"}},
            ("config:validation:invalid-choice", "build.tools"),
        ),  # noqa: E501
        (
            {"os": "ubuntu-24.04", "tools": {"python": 3.10}},
            ("config:validation:invalid-choice", "build.tools.python"),
        ),  # noqa: E501
        (
            {"os": "ubuntu-24.04", "tools": {"python": 3}},
            ("config:validation:invalid-choice", "build.tools.python"),
        ),  # noqa: E501
        (
            {"os": "ubuntu-24.04", "tools": {"python": "3.11.6"}},
            ("config:validation:invalid-choice", "build.tools.python"),
        ),  # noqa: E501
        (
            {"os": "ubuntu-24.04", "tools": {"nodejs": "21"}},
            ("config:validation:invalid-choice", "build.tools.nodejs"),
        ),  # noqa: E501
        ({**PY, "jobs": None}, ("config:validation:invalid-dict", "build.jobs")),
        ({**PY, "jobs": {"pre_biuld": ["x"]}}, ("config:validation:invalid-choice", "build.jobs")),  # noqa: E501
        (
            {**PY, "jobs": {"post_install": "make"}},
            ("config:validation:invalid-list", "build.jobs.post_install"),
        ),  # noqa: E501
        (
            {**PY, "jobs": {"post_install": None}},
            ("config:validation:invalid-list", "build.jobs.post_install"),
        ),  # noqa: E501
        (
            {**PY, "jobs": {"post_install": [1]}},
            ("config:validation:invalid-string", "build.jobs.post_install"),
        ),  # noqa: E501
        ({**PY, "jobs": {"build": None}}, ("config:validation:invalid-dict", "build.jobs.build")),  # noqa: E501
        (
            {**PY, "jobs": {"build": {"man": ["x"]}}},
            ("config:validation:invalid-choice", "build.jobs.build"),
        ),  # noqa: E501
        (
            {**PY, "jobs": {"build": {"pdf": ["x"]}}},
            ("config:build:jobs:build:missing-in-formats", "build.jobs.build.pdf"),
        ),  # noqa: E501
        ({**PY, "commands": "make"}, ("config:validation:invalid-list", "build.commands")),
        ({**PY, "commands": None}, ("config:validation:invalid-list", "build.commands")),
        ({**PY, "commands": [["x"]]}, ("config:validation:invalid-string", "build.commands")),
        (
            {**PY, "commands": ["make"], "jobs": {"post_build": ["x"]}},
            ("config:build:jobs-and-commands", "build"),
        ),  # noqa: E501
        (
            {**PY, "commands": ["make"], "jobs": {"post_build": []}},
            ("config:build:jobs-and-commands", "build"),
        ),  # noqa: E501
        ({**PY, "apt_packages": None}, ("config:validation:invalid-list", "build.apt_packages")),  # noqa: E501
        (
            {**PY, "apt_packages": "graphviz"},
            ("config:validation:invalid-list", "build.apt_packages"),
        ),  # noqa: E501
        ({**PY, "apt_packages": [1]}, ("config:validation:invalid-string", "build.apt_packages.0")),  # noqa: E501
        (
            {**PY, "apt_packages": ["ok", "-y"]},
            ("config:apt:invalid-package-name-prefix", "build.apt_packages.1"),
        ),  # noqa: E501
        (
            {**PY, "apt_packages": ["/tmp/x.deb"]},
            ("config:apt:invalid-package-name-prefix", "build.apt_packages.0"),
        ),  # noqa: E501
        (
            {**PY, "apt_packages": ["./x.deb"]},
            ("config:apt:invalid-package-name-prefix", "build.apt_packages.0"),
        ),  # noqa: E501
        (
            {**PY, "apt_packages": ["libfoo:i386"]},
            ("config:apt:invalid-package-name", "build.apt_packages.0"),
        ),  # noqa: E501
        (
            {**PY, "apt_packages": ["a b"]},
            ("config:apt:invalid-package-name", "build.apt_packages.0"),
        ),  # noqa: E501
        (
            {**PY, "apt_packages": ["  "]},
            ("config:apt:invalid-package-name", "build.apt_packages.0"),
        ),  # noqa: E501
        ({**PY, "image": "latest"}, ("config:base:invalid-key-name", "build.image")),
    ],
)
def test_build_errors(build: Any, expected: tuple[str, str]) -> None:
    assert error({"version": 2, "build": build}) == expected


def test_build_accepts_and_normalises() -> None:
    got = final(
        {
            "version": 2,
            "formats": "all",
            "build": {
                "os": "ubuntu-lts-latest",
                "tools": {"python": "3", "nodejs": "latest", "golang": "1.20", "rust": "1.96"},
                "jobs": {"post_install": ["a"], "build": {"pdf": ["b"]}, "pre_checkout": []},
                "apt_packages": ["  g++  ", "libxml2-dev", "texlive-latex-extra"],
            },
        }
    )["build"]
    assert got["os"] == "ubuntu-lts-latest"
    assert got["tools"] == {
        "python": {"version": "3", "full_version": "3.14.6"},
        "nodejs": {"version": "latest", "full_version": "26.4.0"},
        "golang": {"version": "1.20", "full_version": "1.20.14"},
        "rust": {"version": "1.96", "full_version": "1.96.0"},
    }
    assert got["jobs"]["post_install"] == ["a"]
    assert got["jobs"]["build"] == {"html": None, "pdf": ["b"], "epub": None, "htmlzip": None}
    assert got["jobs"]["create_environment"] is None
    assert got["apt_packages"] == ["g++", "libxml2-dev", "texlive-latex-extra"]


@pytest.mark.parametrize(
    ("build", "formats", "doctype"),
    [
        ({**PY, "jobs": {"build": {"html": ["x"]}}}, [], "generic"),
        ({**PY, "jobs": {"build": {"htmlzip": ["x"]}}}, ["htmlzip"], "generic"),
        ({**PY, "jobs": {"install": []}}, [], "generic"),
        ({**PY, "jobs": {"create_environment": ["x"]}}, [], "generic"),
        ({**PY, "jobs": {"post_install": ["x"]}}, [], "sphinx"),
        ({**PY, "jobs": {"build": {}}}, [], "sphinx"),
        ({**OS, "commands": ["make html"]}, [], "generic"),
    ],
)
def test_jobs_commands_and_doctype(build: Any, formats: list[str], doctype: str) -> None:
    assert final({"version": 2, "formats": formats, "build": build})["doctype"] == doctype


def test_commands_without_tools_and_with_tools() -> None:
    got = final({"version": 2, "build": {**OS, "commands": ["echo hi"]}})
    assert got["build"]["tools"] == {} and got["build"]["commands"] == ["echo hi"]
    both = final({"version": 2, "build": {**PY, "commands": ["echo"]}})
    assert both["build"]["tools"]["python"]["full_version"] == "3.12.13"


def test_jobs_build_with_sphinx_key_keeps_sphinx_doctype() -> None:
    got = final({"build": {**PY, "jobs": {"build": {"html": ["x"]}}}, "sphinx": {}})
    assert got["doctype"] == "sphinx"


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (
            {"build": {**OS, "tools": {"python": "miniconda3-4.7"}}},
            ("config:conda:required", "conda"),
        ),
        (
            {"build": {**OS, "tools": {"python": "mambaforge-latest"}}},
            ("config:conda:required", "conda"),
        ),
        (
            {"build": {**OS, "tools": {"python": "miniforge3-26.3"}}},
            ("config:conda:required", "conda"),
        ),
        (
            {"build": {**OS, "tools": {"python": "miniconda-latest"}}, "conda": None},
            ("config:conda:required", "conda"),
        ),
        ({"build": PY, "conda": None}, ("config:base:invalid-key-name", "conda")),
        ({"build": PY, "conda": {}}, ("config:validation:value-not-found", "conda.environment")),
        ({"build": PY, "conda": "env.yml"}, ("config:validation:invalid-dict", "conda")),
        (
            {"build": PY, "conda": {"environment": "e.yml", "file": "x"}},
            ("config:base:invalid-key-name", "conda.file"),
        ),
        (
            {"build": PY, "conda": {"environment": 1}},
            ("config:validation:invalid-string", "conda.environment"),
        ),  # noqa: E501
        (
            {"build": PY, "conda": {"environment": ""}},
            ("config:validation:invalid-path", "conda.environment"),
        ),  # noqa: E501
    ],
)
def test_conda_errors(data: dict[str, Any], expected: tuple[str, str]) -> None:
    assert error(data) == expected


def test_conda_accepted() -> None:
    conda = {
        "build": {**OS, "tools": {"python": "miniforge3-latest"}},
        "conda": {"environment": "./docs//env.yml"},
    }  # noqa: E501
    got = final(conda)
    assert got["conda"] == {"environment": "docs/env.yml"}
    assert got["build"]["tools"]["python"]["full_version"] == "miniforge3-26.3.2-3"
    commands = {"build": {**OS, "tools": {"python": "miniconda3-4.7"}, "commands": ["x"]}}
    assert final(commands)["conda"] is None
    plain = final({"build": PY, "conda": {"environment": "e.yml"}})
    assert plain["conda"] == {"environment": "e.yml"}


@pytest.mark.parametrize(
    ("python", "expected"),
    [
        (
            {"install": [{"requirements": "docs/requirements.txt"}]},
            [{"requirements": "docs/requirements.txt"}],
        ),  # noqa: E501
        ({"install": [{"path": "."}]}, [{"path": ".", "method": "pip", "extra_requirements": []}]),
        (
            {"install": [{"method": "setuptools", "path": "./pkg/"}]},
            [{"path": "pkg", "method": "setuptools", "extra_requirements": []}],
        ),
        (
            {"install": [{"method": "pip", "path": ".", "extra_requirements": ["docs"]}]},
            [{"path": ".", "method": "pip", "extra_requirements": ["docs"]}],
        ),
        (
            {"install": [{"path": ".[docs]"}]},
            [{"path": ".[docs]", "method": "pip", "extra_requirements": []}],
        ),  # noqa: E501
        (
            {"install": [{"requirements": "/docs/requirements.txt"}]},
            [{"requirements": "../" * 8 + "docs/requirements.txt"}],
        ),  # noqa: E501
        ({"install": [{"requirements": "../req.txt"}]}, [{"requirements": "../req.txt"}]),
        ({"install": []}, []),
        ({}, []),
        (
            {"install": [{"method": "uv", "command": "sync"}]},
            [
                {
                    "method": "uv",
                    "command": "sync",
                    "path": None,
                    "requirements": None,
                    "groups": None,
                    "extras": None,
                }
            ],  # noqa: E501
        ),
        (
            {
                "install": [
                    {
                        "method": "uv",
                        "command": "sync",
                        "path": "./",
                        "groups": ["docs"],
                        "extras": "all",
                    }
                ]
            },  # noqa: E501
            [
                {
                    "method": "uv",
                    "command": "sync",
                    "path": ".",
                    "requirements": None,
                    "groups": ["docs"],
                    "extras": "all",
                }
            ],  # noqa: E501
        ),
        (
            {"install": [{"method": "uv", "command": "pip", "requirements": "docs/r.txt"}]},
            [
                {
                    "method": "uv",
                    "command": "pip",
                    "path": None,
                    "requirements": "docs/r.txt",
                    "groups": None,
                    "extras": None,
                }
            ],  # noqa: E501
        ),
        (
            {"install": [{"method": "uv", "command": "pip", "path": ".", "extras": ["docs"]}]},
            [
                {
                    "method": "uv",
                    "command": "pip",
                    "path": ".",
                    "requirements": None,
                    "groups": None,
                    "extras": ["docs"],
                }
            ],  # noqa: E501
        ),
    ],
)
def test_python_install_forms(python: dict[str, Any], expected: list[Any]) -> None:
    assert final({"build": PY, "python": python})["python"] == {"install": expected}


@pytest.mark.parametrize(
    ("python", "expected"),
    [
        (None, ("config:validation:invalid-dict", "python")),
        ({"install": None}, ("config:validation:invalid-list", "python.install")),
        ({"install": "requirements.txt"}, ("config:validation:invalid-list", "python.install")),
        (
            {"install": ["docs/requirements.txt"]},
            ("config:validation:invalid-dict", "python.install.0"),
        ),  # noqa: E501
        ({"version": "3.8"}, ("config:base:invalid-key-name", "python.version")),
        (
            {"system_packages": True, "install": []},
            ("config:base:invalid-key-name", "python.system_packages"),
        ),  # noqa: E501
        (
            {"install": [{"requirements": "r.txt", "method": "pip"}]},
            ("config:base:invalid-key-name", "python.install.0.method"),
        ),  # noqa: E501
        (
            {"install": [{"requirements": "r.txt", "path": "."}]},
            ("config:base:invalid-key-name", "python.install.0.path"),
        ),  # noqa: E501
        (
            {"install": [{"method": "pip"}]},
            ("config:python:pip-path-requirement-required", "python.install.0"),
        ),  # noqa: E501
        (
            {"install": [{"path": ".", "method": "conda"}]},
            ("config:validation:invalid-choice", "python.install.0.method"),
        ),  # noqa: E501
        (
            {"install": [{"path": ".", "method": "setuptools", "extra_requirements": ["x"]}]},
            ("config:python:pip-required", "python.install.0.extra_requirements"),
        ),  # noqa: E501
        (
            {"install": [{"path": ".", "extra_requirements": None}]},
            ("config:validation:invalid-list", "python.install.0.extra_requirements"),
        ),  # noqa: E501
        ({"install": [{"path": 1}]}, ("config:validation:invalid-string", "python.install.0.path")),  # noqa: E501
        (
            {"install": [{"requirements": ""}]},
            ("config:validation:invalid-path", "python.install.0.requirements"),
        ),  # noqa: E501
        (
            {"install": [{"method": "uv"}]},
            ("config:python:uv-command-required", "python.install.0.command"),
        ),  # noqa: E501
        (
            {"install": [{"method": "uv", "command": "run"}]},
            ("config:validation:invalid-choice", "python.install.0.command"),
        ),  # noqa: E501
        (
            {"install": [{"method": "uv", "command": "sync"}, {"path": "."}]},
            ("config:python:uv-multiple-install-entries-invalid", "python.install"),
        ),  # noqa: E501
        (
            {"install": [{"method": "uv", "command": "sync", "requirements": "r.txt"}]},
            ("config:base:invalid-key-name", "python.install.0.requirements"),
        ),  # noqa: E501
        (
            {"install": [{"method": "uv", "command": "sync", "groups": []}]},
            ("config:validation:invalid-list", "python.install.0.groups"),
        ),  # noqa: E501
        (
            {"install": [{"method": "uv", "command": "pip"}]},
            ("config:python:pip-path-requirement-required", "python.install.0"),
        ),  # noqa: E501
        (
            {"install": [{"method": "uv", "command": "pip", "path": ".", "groups": ["d"]}]},
            ("config:base:invalid-key-name", "python.install.0.groups"),
        ),  # noqa: E501
    ],
)
def test_python_errors(python: Any, expected: tuple[str, str]) -> None:
    assert error({"build": PY, "python": python}) == expected


@pytest.mark.parametrize(
    ("data", "sphinx", "mkdocs", "doctype"),
    [
        (
            {},
            {"configuration": None, "builder": "sphinx", "fail_on_warning": False},
            None,
            "sphinx",
        ),  # noqa: E501
        (
            {"sphinx": {}},
            {"configuration": None, "builder": "sphinx", "fail_on_warning": False},
            None,
            "sphinx",
        ),  # noqa: E501
        (
            {
                "sphinx": {
                    "builder": "dirhtml",
                    "configuration": "./docs/conf.py",
                    "fail_on_warning": 1,
                }
            },  # noqa: E501
            {"configuration": "docs/conf.py", "builder": "sphinx_htmldir", "fail_on_warning": True},
            None,
            "sphinx_htmldir",
        ),
        (
            {"sphinx": {"builder": "htmldir"}},
            {"configuration": None, "builder": "sphinx_htmldir", "fail_on_warning": False},
            None,
            "sphinx_htmldir",
        ),  # noqa: E501
        (
            {"sphinx": {"builder": "singlehtml"}},
            {"configuration": None, "builder": "sphinx_singlehtml", "fail_on_warning": False},
            None,
            "sphinx_singlehtml",
        ),  # noqa: E501
        ({"mkdocs": {}}, None, {"configuration": None, "fail_on_warning": False}, "mkdocs"),
        (
            {"mkdocs": {"configuration": "docs/mkdocs.yaml", "fail_on_warning": True}},
            None,
            {"configuration": "docs/mkdocs.yaml", "fail_on_warning": True},
            "mkdocs",
        ),  # noqa: E501
    ],
)
def test_sphinx_and_mkdocs(data: dict[str, Any], sphinx: Any, mkdocs: Any, doctype: str) -> None:
    got = final({"build": PY, **data})
    assert (got["sphinx"], got["mkdocs"], got["doctype"]) == (sphinx, mkdocs, doctype)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"sphinx": {}, "mkdocs": {}}, ("config:base:sphinx-mkdocs-together", ".")),
        ({"sphinx": None}, ("config:validation:invalid-dict", "sphinx.builder")),
        ({"sphinx": "docs/conf.py"}, ("config:validation:invalid-dict", "sphinx")),
        ({"mkdocs": None}, ("config:base:invalid-key-name", "mkdocs")),
        ({"sphinx": {"builder": "latex"}}, ("config:validation:invalid-choice", "sphinx.builder")),
        (
            {"sphinx": {"configuration": "docs/config.py"}},
            ("config:sphinx:invalid-config-file", "sphinx.configuration"),
        ),  # noqa: E501
        (
            {"sphinx": {"configuration": "docs/"}},
            ("config:sphinx:invalid-config-file", "sphinx.configuration"),
        ),  # noqa: E501
        (
            {"sphinx": {"fail_on_warning": "true"}},
            ("config:validation:invalid-bool", "sphinx.fail_on_warning"),
        ),  # noqa: E501
        (
            {"mkdocs": {"fail_on_warning": 2}},
            ("config:validation:invalid-bool", "mkdocs.fail_on_warning"),
        ),  # noqa: E501
        (
            {"mkdocs": {"configuration": ""}},
            ("config:validation:invalid-path", "mkdocs.configuration"),
        ),  # noqa: E501
    ],
)
def test_sphinx_mkdocs_errors(data: dict[str, Any], expected: tuple[str, str]) -> None:
    assert error({"build": PY, **data}) == expected


@pytest.mark.parametrize(
    ("submodules", "expected"),
    [
        ({}, {"include": [], "exclude": "all", "recursive": False}),
        ({"include": []}, {"include": [], "exclude": "all", "recursive": False}),
        ({"include": ["a"]}, {"include": ["a"], "exclude": [], "recursive": False}),
        (
            {"include": "all", "recursive": True},
            {"include": "all", "exclude": [], "recursive": True},
        ),  # noqa: E501
        ({"exclude": ["b"]}, {"include": [], "exclude": ["b"], "recursive": False}),
        ({"exclude": []}, {"include": [], "exclude": [], "recursive": False}),
        ({"include": ["a"], "exclude": ["b"]}, "config:submodules:include-exclude-together"),
        ({"include": "all", "exclude": "all"}, "config:submodules:include-exclude-together"),
        ({"include": "a"}, "config:validation:invalid-list"),
        ({"recursive": "yes"}, "config:validation:invalid-bool"),
        (None, "config:validation:invalid-dict"),
    ],
)
def test_submodules(submodules: Any, expected: Any) -> None:
    data = {"build": PY, "submodules": submodules}
    if isinstance(expected, dict):
        assert final(data)["submodules"] == expected
    else:
        assert error(data)[0] == expected


@pytest.mark.parametrize(
    ("search", "expected"),
    [
        (
            {},
            {
                "ranking": {},
                "ignore": ["search.html", "search/index.html", "404.html", "404/index.html"],
            },
        ),  # noqa: E501
        ({"ignore": []}, {"ranking": {}, "ignore": []}),
        ({"ignore": ["/a//b/", "./c/../d.html"]}, {"ranking": {}, "ignore": ["a/b", "d.html"]}),
        (
            {"ranking": {"/api/*": -1, "changelog.html": True, "x": 1.0, "y": 10}},
            {
                "ranking": {"api/*": -1, "changelog.html": 1, "x": 1, "y": 10},
                "ignore": ["search.html", "search/index.html", "404.html", "404/index.html"],
            },  # noqa: E501
        ),
        ({"ranking": {"a": 11}}, ("config:validation:invalid-choice", "search.ranking")),
        ({"ranking": {"a": "1"}}, ("config:validation:invalid-choice", "search.ranking")),
        ({"ranking": None}, ("config:validation:invalid-dict", "search.ranking")),
        ({"ranking": {"/": 1}}, ("config:validation:invalid-path-pattern", "search.ranking")),
        ({"ignore": ["."]}, ("config:validation:invalid-path-pattern", "search.ignore")),
        ({"ignore": [1]}, ("config:validation:invalid-string", "search.ignore")),
        ({"ignore": "404.html"}, ("config:validation:invalid-list", "search.ignore")),
        (None, ("config:validation:invalid-dict", "search")),
    ],
)
def test_search(search: Any, expected: Any) -> None:
    data = {"build": PY, "search": search}
    if isinstance(expected, dict):
        assert final(data)["search"] == expected
    else:
        assert error(data) == expected


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        # A stray key is reported only after every value check (unknown keys come last).
        ({"foo": {"bar": 1}, "formats": "x"}, ("config:validation:invalid-list", "formats")),
        ({"foo": {"bar": 1}}, ("config:base:invalid-key-name", "foo.bar")),
        ({"foo": {}}, ("config:base:invalid-key-name", "foo")),
        ({"requirements_file": "r.txt"}, ("config:base:invalid-key-name", "requirements_file")),
        (
            {"python": {"setup_py_install": True}},
            ("config:base:invalid-key-name", "python.setup_py_install"),
        ),  # noqa: E501
    ],
)
def test_unknown_keys_last(data: dict[str, Any], expected: tuple[str, str]) -> None:
    assert error({"build": PY, **data}) == expected


@pytest.mark.parametrize(
    ("data", "brownout_result"),
    [
        ({}, ("config:sphinx:missing-config", "sphinx.configuration")),
        ({"sphinx": {}}, ("config:sphinx:missing-config", "sphinx.configuration")),
        ({"mkdocs": {}}, ("config:mkdocs:missing-config", "mkdocs.configuration")),
        ({"sphinx": {"configuration": "docs/conf.py"}}, None),
        ({"mkdocs": {"configuration": "mkdocs.yml"}}, None),
        ({"build": {**PY, "jobs": {"build": {"html": ["x"]}}}}, None),
        (
            {"build": {**PY, "jobs": {"post_build": ["x"]}}},
            ("config:sphinx:missing-config", "sphinx.configuration"),
        ),  # noqa: E501
        ({"build": {**OS, "commands": ["make"]}}, None),
        # Brownout runs before the unknown-key check.
        ({"foo": 1}, ("config:sphinx:missing-config", "sphinx.configuration")),
    ],
)
def test_brownout(data: dict[str, Any], brownout_result: Any) -> None:
    config = {"build": PY, **data}
    if "foo" not in data:
        final(config)  # accepted without the brownout rule
    if brownout_result is None:
        assert final(config, brownout=True)["version"] == "2"
    else:
        assert error(config, brownout=True) == brownout_result


@pytest.mark.parametrize(
    ("value", "base", "expected"),
    [
        ("docs/requirements.txt", BASE, "docs/requirements.txt"),
        ("./docs//requirements.txt", BASE, "docs/requirements.txt"),
        ("docs/", BASE, "docs"),
        (".", BASE, "."),
        ("/docs/requirements.txt", BASE, "../" * 8 + "docs/requirements.txt"),
        ("/docs/requirements.txt", BASE + "/docs", "../" * 9 + "docs/requirements.txt"),
        ("../x.txt", BASE + "/docs", "../x.txt"),
        ("docs/../r.txt", BASE, "r.txt"),
    ],
)
def test_normalize_path(value: str, base: str, expected: str) -> None:
    assert normalize_path(value, base) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [("/a/", "a"), ("a//b", "a/b"), ("a/./b/../c", "a/c"), ("../../x", "x"), ("/api/*", "api/*")],
)
def test_normalize_pattern(value: str, expected: str) -> None:
    assert normalize_pattern(value) == expected
