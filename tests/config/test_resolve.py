"""Finding the file, custom paths, symlinks, the platform profile, keys_set and the CLI."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from buildcensus.cli import main
from buildcensus.config import (
    ResolvedConfig,
    find_config_file,
    keys_set,
    load_platform,
    resolve_config,
)
from buildcensus.errors import ConfigError, UsageError

VALID = "version: 2\nbuild:\n  os: ubuntu-24.04\n  tools:\n    python: '3.12'\n"


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(list(args))
    out = capsys.readouterr()
    return int(exc.value.code or 0), out.out, out.err


@pytest.mark.parametrize(
    ("name", "found"),
    [
        (".readthedocs.yaml", True),
        (".readthedocs.yml", True),
        ("readthedocs.yaml", True),
        ("readthedocs.yml", True),
        ("readthedocs-yml", True),  # any one character before yml
        (".readthedocs.json", False),
        ("docs.readthedocs.yml", False),
        ("readthedocs.yml.bak", False),
        ("mkdocs.yml", False),
    ],
)
def test_find_config_file(tmp_path: Path, name: str, found: bool) -> None:
    (tmp_path / name).write_text(VALID)
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / ".readthedocs.yaml").write_text(VALID)  # never searched
    assert find_config_file(tmp_path) == (tmp_path / name if found else None)


def test_no_config_file_gives_null_user_and_final_with_warning(tmp_path: Path) -> None:
    result = resolve_config(checkout=tmp_path)
    assert isinstance(result, ResolvedConfig)
    assert (result.user, result.user_raw, result.final, result.version) == (None, None, None, None)
    assert result.keys_set == []
    assert result.warnings[0].startswith("config:path:default-not-found: ")


def test_directory_path_is_a_checkout(tmp_path: Path) -> None:
    (tmp_path / ".readthedocs.yml").write_text(VALID + "sphinx:\n  configuration: docs/conf.py\n")
    result = resolve_config(tmp_path)
    assert result.path == str(tmp_path / ".readthedocs.yml")
    assert result.final is not None and result.final["sphinx"]["configuration"] == "docs/conf.py"
    assert result.to_dict()["version"] == "2"


def test_custom_config_path_paths_relative_to_its_folder(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "rtd.yaml").write_text(
        VALID
        + "python:\n  install:\n    - requirements: requirements.txt\n"
        + "    - requirements: /abs/req.txt\n"
        + "sphinx:\n  configuration: ./conf.py\n"
    )
    result = resolve_config(Path("docs/rtd.yaml"), checkout=tmp_path)
    assert result.final is not None
    assert result.final["python"]["install"] == [
        {"requirements": "requirements.txt"},
        {"requirements": "../" * 9 + "abs/req.txt"},  # the folder is one level deeper
    ]
    assert result.final["sphinx"]["configuration"] == "conf.py"


def test_custom_config_path_must_exist(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        resolve_config(tmp_path / "nope.yaml", checkout=tmp_path)
    assert info.value.message_id == "config:path:not-found"


def test_symlink_outside_checkout_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside.yaml"
    outside.write_text(VALID)
    checkout = tmp_path / "repo"
    checkout.mkdir()
    os.symlink(outside, checkout / ".readthedocs.yaml")
    with pytest.raises(ConfigError) as info:
        resolve_config(checkout)
    assert info.value.message_id == "build:user:symlink:used"
    inside = checkout / "real.yaml"
    inside.write_text(VALID)
    (checkout / ".readthedocs.yaml").unlink()
    os.symlink(inside, checkout / ".readthedocs.yaml")
    assert resolve_config(checkout).final is not None


def test_usage_errors() -> None:
    with pytest.raises(UsageError):
        resolve_config()


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"version": 2}, ["version"]),
        ({"build": {"os": "x", "tools": {"python": "3"}}}, ["build.os", "build.tools.python"]),
        (
            {"python": {"install": [{"requirements": "r"}, {"path": ".", "method": "pip"}]}},
            ["python.install.0.requirements", "python.install.1.path", "python.install.1.method"],
        ),
        ({"formats": ["pdf", "epub"]}, ["formats.0", "formats.1"]),
        ({"formats": "all"}, ["formats"]),
        ({"formats": [], "sphinx": {}, "conda": None}, ["formats", "sphinx", "conda"]),
        ({"search": {"ranking": {"a/b.html": 2}}}, ["search.ranking.a/b.html"]),
        ({1: {True: None}}, ["1.true"]),
    ],
)
def test_keys_set(data: dict, expected: list[str]) -> None:
    assert keys_set(data) == expected


def test_platform_profile_replaceable(tmp_path: Path) -> None:
    profile = tmp_path / "platform.yaml"
    profile.write_text(
        "os:\n  debian-13: debian-13\ntools:\n  python:\n    '3.13': '3.13.9'\n"
        "checkout_path: /srv/build/checkout\n"
    )
    (tmp_path / ".readthedocs.yaml").write_text(
        "version: 2\nbuild:\n  os: debian-13\n  tools: {python: '3.13'}\n"
        "python:\n  install: [{requirements: /r.txt}]\n"
    )
    result = resolve_config(tmp_path, platform=profile)
    assert result.final is not None
    assert result.final["build"]["tools"]["python"]["full_version"] == "3.13.9"
    assert result.final["python"]["install"] == [{"requirements": "../../../r.txt"}]
    with pytest.raises(ConfigError) as info:
        resolve_config(tmp_path)  # the shipped profile has no debian-13
    assert info.value.key == "build.os"
    assert load_platform({"os": {"a": "a"}, "tools": {"python": {"3": "3.0.1"}}}).os == {"a": "a"}


@pytest.mark.parametrize(
    "profile",
    [
        "- a\n",
        "os: {}\ntools: {python: {'3': '3.1'}}\n",
        "os: {a: a}\ntools: {python: {3.10: '3.10.1'}}\n",
        "os: {a: a}\ntools: {python: {'3': '3'}}\ncheckout_path: relative\n",
    ],
)
def test_bad_platform_profile(tmp_path: Path, profile: str) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(profile)
    with pytest.raises(UsageError):
        load_platform(path)


def test_shipped_profile_matches_the_rules() -> None:
    platform = load_platform()
    assert list(platform.os) == [
        "ubuntu-22.04",
        "ubuntu-24.04",
        "ubuntu-26.04",
        "ubuntu-lts-latest",
    ]
    assert set(platform.tools) == {"python", "nodejs", "ruby", "rust", "golang"}
    assert platform.tools["python"]["3.10"] == "3.10.20"
    assert platform.tools["golang"]["latest"] == "1.26.4"
    assert len(platform.checkout_path.strip("/").split("/")) == 8


def test_cli_resolve_ok(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / ".readthedocs.yaml").write_text(VALID + "formats: all\n")
    code, out, err = run(capsys, "config", "resolve", str(tmp_path))
    assert code == 0 and err == ""
    data = json.loads(out)
    assert list(data)[:6] == ["version", "user", "user_raw", "final", "keys_set", "warnings"]
    assert data["version"] == "2"
    assert data["user_raw"] == VALID + "formats: all\n"
    assert data["final"]["formats"] == ["htmlzip", "pdf", "epub"]
    assert data["keys_set"] == ["version", "build.os", "build.tools.python", "formats"]


def test_cli_resolve_error_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "rtd.yml"
    config.write_text("version: 1\n")
    code, out, err = run(capsys, "config", "resolve", str(config))
    assert code == 2 and out == ""
    assert err.splitlines() == [
        "ConfigError: version: config:base:invalid-version: "
        "Invalid version of the configuration file: 1 (only 2 is supported)"
    ]


def test_cli_brownout_option(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / ".readthedocs.yaml").write_text(VALID)
    assert run(capsys, "config", "resolve", str(tmp_path))[0] == 0
    code, _, err = run(capsys, "config", "resolve", str(tmp_path), "--brownout")
    assert code == 2 and "config:sphinx:missing-config" in err


def test_cli_no_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "config", "resolve", str(tmp_path), "--checkout", str(tmp_path))
    data = json.loads(out)
    assert code == 0 and data["user"] is None and data["final"] is None
    assert data["warnings"][0].startswith("config:path:default-not-found")


def test_cli_custom_path_and_platform(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "rtd.yml").write_text(VALID + "conda: {environment: env.yml}\n")
    profile = tmp_path / "p.yaml"
    profile.write_text("os: {ubuntu-24.04: x}\ntools: {python: {'3.12': '3.12.0'}}\n")
    code, out, _ = run(
        capsys,
        "config",
        "resolve",
        str(tmp_path / "docs" / "rtd.yml"),
        "--checkout",
        str(tmp_path),
        "--platform",
        str(profile),
    )
    data = json.loads(out)
    assert code == 0 and data["final"]["conda"] == {"environment": "env.yml"}
    assert data["final"]["build"]["tools"]["python"]["full_version"] == "3.12.0"


def test_cli_help_mentions_options(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "config", "resolve", "--help")
    assert code == 0
    for option in ("--checkout", "--platform", "--brownout"):
        assert option in out
