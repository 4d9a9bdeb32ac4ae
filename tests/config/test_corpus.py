"""Every real config in the shared corpus resolves, or fails with a specific message id.

`corpus_expected.json` holds one expectation per file: `ok:<doctype>` or `<message-id>@<key>`,
without (`default`) and with (`brownout`) the brownout rule. The table was first produced by
this resolver and then reviewed file category by file category against CONFIG_RULES.md
(missing build.os -> value-not-found, ubuntu-20.04 -> invalid-choice, the five files that are
not YAML -> invalid-syntax, removed keys -> invalid-key-name, ...). The full final configs below
were derived by hand from the rules, not from the resolver.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from buildcensus.config import resolve_config
from buildcensus.errors import ConfigError

# The corpus sits next to the repository (`../shared/corpus`); BUILDCENSUS_CORPUS overrides.
CORPUS = (
    Path(
        os.environ.get("BUILDCENSUS_CORPUS")
        or Path(__file__).resolve().parents[3] / "shared" / "corpus"
    )
    / "configs"
)
EXPECTED = json.loads((Path(__file__).parent / "corpus_expected.json").read_text("utf-8"))

pytestmark = pytest.mark.skipif(not CORPUS.is_dir(), reason="shared corpus not present")

JOBS_DEFAULT = {
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
}
SEARCH_DEFAULT = {
    "ranking": {},
    "ignore": ["search.html", "search/index.html", "404.html", "404/index.html"],
}
SUBMODULES_DEFAULT = {"include": [], "exclude": "all", "recursive": False}


def _outcome(name: str, brownout: bool) -> str:
    checkout = CORPUS / name
    try:
        result = resolve_config(
            checkout / EXPECTED[name]["config_path"], checkout=checkout, brownout=brownout
        )
    except ConfigError as exc:
        return f"{exc.message_id}@{exc.key}"
    assert result.final is not None and result.user is not None and result.user_raw
    return f"ok:{result.final['doctype']}"


def test_every_corpus_file_has_an_expectation() -> None:
    on_disk = {p.name for p in CORPUS.iterdir() if p.is_dir()}
    assert on_disk == set(EXPECTED)
    assert len(EXPECTED) == 202


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_corpus_file(name: str) -> None:
    assert _outcome(name, brownout=False) == EXPECTED[name]["default"]
    assert _outcome(name, brownout=True) == EXPECTED[name]["brownout"]


def test_hand_derived_conda_project() -> None:
    # Becksteinlab/basicrta: mambaforge needs `conda`, which it has; pip install of ".".
    result = resolve_config(CORPUS / "Becksteinlab__basicrta" / "readthedocs.yaml")
    assert result.final == {
        "version": "2",
        "formats": [],
        "python": {"install": [{"path": ".", "method": "pip", "extra_requirements": []}]},
        "conda": {"environment": "docs/requirements.yaml"},
        "build": {
            "os": "ubuntu-22.04",
            "tools": {
                "python": {"version": "mambaforge-4.10", "full_version": "mambaforge-4.10.3-10"}
            },  # noqa: E501
            "jobs": JOBS_DEFAULT,
            "apt_packages": [],
            "commands": [],
        },
        "doctype": "sphinx",
        "sphinx": {
            "configuration": "docs/source/conf.py",
            "builder": "sphinx",
            "fail_on_warning": True,
        },
        "mkdocs": None,
        "submodules": SUBMODULES_DEFAULT,
        "search": SEARCH_DEFAULT,
    }
    assert result.keys_set == [
        "version",
        "build.os",
        "build.tools.python",
        "python.install.0.method",
        "python.install.0.path",
        "conda.environment",
        "sphinx.configuration",
        "sphinx.fail_on_warning",
    ]


def test_hand_derived_jobs_build_html_is_generic() -> None:
    # 2bndy5/sphinx-social-cards: build.jobs.build.html and no sphinx key -> doctype generic.
    result = resolve_config(CORPUS / "2bndy5__sphinx-social-cards" / ".readthedocs.yaml")
    assert result.final is not None
    jobs = dict(JOBS_DEFAULT)
    jobs["pre_create_environment"] = [
        'UV_INSTALL_DIR="${HOME}/.local/bin" && curl -LsSf https://astral.sh/uv/install.sh | sh'
    ]
    jobs["build"] = {
        "html": ['"${HOME}/.local/bin/uvx" nox -s "docs(html)"'],
        "pdf": None,
        "epub": None,
        "htmlzip": None,
    }
    jobs["post_build"] = [
        "mkdir -p $READTHEDOCS_OUTPUT/html/",
        "mv docs/_build/html/* $READTHEDOCS_OUTPUT/html",
    ]
    assert result.final["build"] == {
        "os": "ubuntu-22.04",
        "tools": {"python": {"version": "3.11", "full_version": "3.11.15"}},
        "jobs": jobs,
        "apt_packages": ["libgl1-mesa-dev", "libxkbcommon-x11-0"],
        "commands": [],
    }
    assert result.final["doctype"] == "generic"
    assert result.final["sphinx"] == {
        "configuration": None,
        "builder": "sphinx",
        "fail_on_warning": False,
    }


def test_hand_derived_mkdocs_project() -> None:
    # 0x26res/ptars: mkdocs key -> sphinx null, doctype mkdocs.
    result = resolve_config(CORPUS / "0x26res__ptars")
    assert result.final is not None
    assert result.final["mkdocs"] == {"configuration": "mkdocs.yml", "fail_on_warning": False}
    assert result.final["sphinx"] is None
    assert result.final["doctype"] == "mkdocs"
    assert result.final["python"] == {"install": [{"requirements": "docs/requirements.txt"}]}
    assert result.final["submodules"] == SUBMODULES_DEFAULT
    assert result.final["search"] == SEARCH_DEFAULT


def test_duplicate_key_files_keep_the_warning_on_the_error() -> None:
    # terrier-org/pyterrier writes `build:` twice; the second (jobs only) wins -> no build.os.
    path = CORPUS / "terrier-org__pyterrier" / "docs" / "readthedocs.yml"
    with pytest.raises(ConfigError) as info:
        resolve_config(path, checkout=CORPUS / "terrier-org__pyterrier")
    assert (info.value.message_id, info.value.key) == (
        "config:validation:value-not-found",
        "build.os",
    )
    partial = info.value.partial  # type: ignore[attr-defined]
    assert partial.final is None and partial.user["build"] == {
        "jobs": {
            "post_create_environment": [
                'echo "export LD_LIBRARY_PATH=$CONDA_PREFIX/lib:$LD_LIBRARY_PATH" >> $BASH_ENV'
            ]
        }
    }
    assert partial.warnings == ["duplicate key 'build' at line 11: the last value wins"]
