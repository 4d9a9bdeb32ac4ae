"""Version 2 validation and defaults, in the platform loader's order (see docs/config.md).

The platform consumes ("takes") every key it understands from a working copy of the user's
mapping, then reports the first key left over as unknown. We do the same, because the exact
leftover key (and the fact that it is checked last) is part of the observable behaviour.
"""

from __future__ import annotations

import copy
import posixpath
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from buildcensus.config._platform import Platform
from buildcensus.errors import ConfigError

# Message ids (stable; the platform's own where it has one).
INVALID_BOOL = "config:validation:invalid-bool"
INVALID_CHOICE = "config:validation:invalid-choice"
INVALID_DICT = "config:validation:invalid-dict"
INVALID_LIST = "config:validation:invalid-list"
INVALID_PATH = "config:validation:invalid-path"
INVALID_PATH_PATTERN = "config:validation:invalid-path-pattern"
INVALID_STRING = "config:validation:invalid-string"
VALUE_NOT_FOUND = "config:validation:value-not-found"
INVALID_VERSION = "config:base:invalid-version"
INVALID_KEY_NAME = "config:base:invalid-key-name"
SPHINX_MKDOCS_TOGETHER = "config:base:sphinx-mkdocs-together"
MISSING_TOOLS_OR_COMMANDS = "config:build:missing-build-tools-commands"
JOBS_AND_COMMANDS = "config:build:jobs-and-commands"
JOBS_BUILD_MISSING_IN_FORMATS = "config:build:jobs:build:missing-in-formats"
APT_INVALID_PREFIX = "config:apt:invalid-package-name-prefix"
APT_INVALID_NAME = "config:apt:invalid-package-name"
CONDA_REQUIRED = "config:conda:required"
PIP_REQUIRED = "config:python:pip-required"
PATH_OR_REQUIREMENTS_REQUIRED = "config:python:pip-path-requirement-required"
UV_COMMAND_REQUIRED = "config:python:uv-command-required"
UV_MULTIPLE_ENTRIES = "config:python:uv-multiple-install-entries-invalid"
SPHINX_INVALID_CONFIG_FILE = "config:sphinx:invalid-config-file"
SPHINX_MISSING_CONFIG = "config:sphinx:missing-config"
MKDOCS_MISSING_CONFIG = "config:mkdocs:missing-config"

ALL = "all"
GENERIC = "generic"
FORMATS = ["htmlzip", "pdf", "epub"]
INSTALL_METHODS = ["pip", "setuptools"]
UV_COMMANDS = ["sync", "pip"]
SPHINX_BUILDERS = {
    "html": "sphinx",
    "htmldir": "sphinx_htmldir",
    "dirhtml": "sphinx_htmldir",
    "singlehtml": "sphinx_singlehtml",
}
JOB_NAMES = [
    "pre_checkout",
    "post_checkout",
    "pre_system_dependencies",
    "post_system_dependencies",
    "pre_create_environment",
    "create_environment",
    "post_create_environment",
    "pre_install",
    "install",
    "post_install",
    "pre_build",
    "build",
    "post_build",
]
# Jobs that replace a step of the platform's own build (default null, not []).
NULLABLE_JOBS = ("create_environment", "install")
BUILD_TYPES = ["html", "pdf", "epub", "htmlzip"]
SEARCH_IGNORE_DEFAULT = ["search.html", "search/index.html", "404.html", "404/index.html"]
_APT_NAME = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9.+-]*\Z")

_MESSAGES = {
    INVALID_BOOL: "expected one of (0, 1, true, false), got {value}",
    INVALID_CHOICE: "expected one of ({choices}), got {value}",
    INVALID_DICT: "expected a mapping, got {value}",
    INVALID_LIST: "expected a list, got {value}",
    INVALID_PATH: "expected a non-empty path, got {value}",
    INVALID_PATH_PATTERN: "{value} is not a valid path pattern",
    INVALID_STRING: "expected a string, got {value}",
    VALUE_NOT_FOUND: "{value} not found",
}


class _Invalid(Exception):
    """A value failed a check; turned into a ConfigError with the key being validated."""

    def __init__(self, message_id: str, value: Any, choices: Any = None) -> None:
        super().__init__(message_id)
        self.message_id = message_id
        self.value = value
        self.choices = choices


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


@contextmanager
def _at(key: str) -> Iterator[None]:
    try:
        yield
    except _Invalid as exc:
        choices = ", ".join(map(str, exc.choices or []))
        text = _MESSAGES[exc.message_id].format(value=_show(exc.value), choices=choices)
        raise ConfigError(key, exc.message_id, text) from None


def _need_dict(value: Any) -> dict[Any, Any]:
    if not isinstance(value, dict):
        raise _Invalid(INVALID_DICT, value)
    return value


def _need_list(value: Any) -> list[Any]:
    # As the platform: anything iterable but a string or a mapping counts as a list.
    if isinstance(value, dict | str) or not hasattr(value, "__iter__"):
        raise _Invalid(INVALID_LIST, value)
    return list(value)


def _need_choice(value: Any, choices: Any) -> Any:
    options = list(choices)
    try:
        ok = value in options
    except TypeError:
        ok = False
    if not ok:
        raise _Invalid(INVALID_CHOICE, value, options)
    return value


def _need_bool(value: Any) -> bool:
    try:
        ok = value in (0, 1, False, True)
    except TypeError:
        ok = False
    if not ok:
        raise _Invalid(INVALID_BOOL, value)
    return bool(value)


def _need_str(value: Any) -> str:
    if not isinstance(value, str):
        raise _Invalid(INVALID_STRING, value)
    return value


def normalize_path(value: Any, base: str) -> str:
    """A path as the platform stores it: relative to `base` (the config file's folder)."""
    text = _need_str(value)
    if not text:
        raise _Invalid(INVALID_PATH, value)
    return posixpath.relpath(posixpath.join(base, text), base)


def normalize_pattern(value: Any) -> str:
    """A search path pattern: no leading slash, `.`/`..`/`//` resolved, no trailing slash."""
    text = posixpath.normpath("/" + _need_str(value).lstrip("/")).lstrip("/")
    if not text:
        raise _Invalid(INVALID_PATH_PATTERN, value)
    return text


def _index_map(items: list[Any]) -> dict[str, Any]:
    return {str(i): item for i, item in enumerate(items)}


class _V2:
    """One validation run over a working copy of the user's mapping."""

    def __init__(self, data: dict[Any, Any], platform: Platform, base: str, brownout: bool):
        self.source = data
        self.raw: dict[Any, Any] = copy.deepcopy(data)
        self.platform = platform
        self.base = base
        self.brownout = brownout
        self.out: dict[str, Any] = {}

    # -- consuming keys -------------------------------------------------------------------
    def _take_in(self, container: Any, names: list[str], default: Any, required: bool) -> Any:
        key = names[0]
        _need_dict(container)
        if key in container:
            if len(names) == 1:
                return container.pop(key)
            value = self._take_in(container[key], names[1:], default, required)
            if not container[key]:
                del container[key]
            return value
        if required:
            raise _Invalid(VALUE_NOT_FOUND, key)
        return default

    def take(self, dotted: str, default: Any = None, required: bool = False) -> Any:
        """Remove `dotted` from the working copy and return it (or the default)."""
        return self._take_in(self.raw, dotted.split("."), default, required)

    # -- sections, in the platform's order ------------------------------------------------
    def run(self) -> dict[str, Any]:
        self.out["formats"] = self.formats()
        self.out["build"] = self.build()
        self.out["conda"] = self.conda()
        self.out["python"] = self.python()
        if "sphinx" in self.raw and "mkdocs" in self.raw:
            raise ConfigError(
                ".", SPHINX_MKDOCS_TOGETHER, "sphinx and mkdocs keys cannot be used together"
            )
        self.out["mkdocs"] = self.mkdocs()
        self.out["sphinx"] = self.sphinx()
        self.out["submodules"] = self.submodules()
        self.out["search"] = self.search()
        if self.brownout:
            self.deprecated_implicit_keys()
        self.unknown_keys()
        return self.final()

    def formats(self) -> list[Any]:
        value = self.take("formats", [])
        if value == ALL:
            return list(FORMATS)
        with _at("formats"):
            items = _need_list(value)
            for item in items:
                _need_choice(item, FORMATS)
        return items

    def build(self) -> dict[str, Any]:
        with _at("build"):
            _need_dict(self.raw.get("build", {}))
        out: dict[str, Any] = {}
        with _at("build.os"):
            out["os"] = _need_choice(self.take("build.os", required=True), self.platform.os)
        with _at("build.tools"):
            tools = self.take("build.tools")
            if tools:
                _need_dict(tools)
                for name in tools:
                    _need_choice(name, self.platform.tools)
        with _at("build.jobs"):
            jobs = self.take("build.jobs", {})
            _need_dict(jobs)
            for name in jobs:
                _need_choice(name, JOB_NAMES)
        with _at("build.commands"):
            commands = self.take("build.commands", [])
            _need_list(commands)
        if not (tools or commands):
            raise ConfigError(
                "build",
                MISSING_TOOLS_OR_COMMANDS,
                "build.tools (at least one tool) or build.commands is required",
            )
        if commands and jobs:
            raise ConfigError(
                "build", JOBS_AND_COMMANDS, "build.jobs and build.commands cannot be used together"
            )
        out_jobs: dict[str, Any] = {"build": self.jobs_build(jobs)}
        for name, job_commands in jobs.items():
            if name == "build":
                continue
            with _at(f"build.jobs.{name}"):
                out_jobs[name] = [_need_str(c) for c in _need_list(job_commands)]
        out["jobs"] = out_jobs
        with _at("build.commands"):
            out["commands"] = [_need_str(c) for c in _need_list(commands)]
        out["tools"] = {}
        for name, version in (tools or {}).items():
            with _at(f"build.tools.{name}"):
                out["tools"][name] = _need_choice(version, self.platform.tools[name])
        out["apt_packages"] = self.apt_packages()
        return out

    def jobs_build(self, jobs: dict[Any, Any]) -> dict[str, Any]:
        result: dict[str, Any] = {}
        with _at("build.jobs.build"):
            build_jobs = jobs.get("build", {})
            _need_dict(build_jobs)
            for kind in build_jobs:
                _need_choice(kind, BUILD_TYPES)
                if kind != "html" and kind not in self.out["formats"]:
                    raise ConfigError(
                        f"build.jobs.build.{kind}",
                        JOBS_BUILD_MISSING_IN_FORMATS,
                        f"build.jobs.build.{kind} is set but {kind!r} is not in formats",
                    )
                with _at(f"build.jobs.build.{kind}"):
                    result[kind] = [_need_str(c) for c in _need_list(build_jobs[kind])]
        return result

    def apt_packages(self) -> list[str]:
        with _at("build.apt_packages"):
            packages = _need_list(self.raw.get("build", {}).get("apt_packages", []))
            self.raw.setdefault("build", {})["apt_packages"] = _index_map(packages)
            if not packages:
                self.take("build.apt_packages")
        out = []
        for index in range(len(packages)):
            key = f"build.apt_packages.{index}"
            package = self.take(key)
            with _at(key):
                name = _need_str(package).strip()
            for prefix in ("-", "/", "."):
                if name.startswith(prefix):
                    raise ConfigError(
                        key,
                        APT_INVALID_PREFIX,
                        f"package name {name!r} must not start with {prefix!r}",
                    )
            if not _APT_NAME.match(name):
                raise ConfigError(
                    key,
                    APT_INVALID_NAME,
                    f"invalid package name {name!r}: letters, digits, '.', '+' and '-' only",
                )
            out.append(name)
        return out

    def conda(self) -> dict[str, str] | None:
        raw_conda = self.raw.get("conda")
        if raw_conda is None:
            python = self.out["build"]["tools"].get("python")
            if self.platform.is_conda(python) and not self.out["build"]["commands"]:
                raise ConfigError(
                    "conda",
                    CONDA_REQUIRED,
                    f"build.tools.python {python!r} needs conda.environment",
                )
            return None
        with _at("conda"):
            _need_dict(raw_conda)
        with _at("conda.environment"):
            environment = self.take("conda.environment", required=True)
            return {"environment": normalize_path(environment, self.base)}

    def python(self) -> dict[str, Any]:
        with _at("python"):
            _need_dict(self.raw.get("python", {}))
        with _at("python.install"):
            installs = _need_list(self.raw.get("python", {}).get("install", []))
            if installs:
                self.raw.setdefault("python", {})["install"] = _index_map(installs)
            else:
                self.take("python.install")
        return {"install": [self.python_install(i, len(installs)) for i in range(len(installs))]}

    def python_install(self, index: int, count: int) -> dict[str, Any]:
        key = f"python.install.{index}"
        item = self.raw["python"]["install"][str(index)]
        with _at(key):
            _need_dict(item)
        if item.get("method") == "uv":
            return self.uv_install(key, item, count)
        if "requirements" in item:
            with _at(f"{key}.requirements"):
                return {"requirements": normalize_path(self.take(f"{key}.requirements"), self.base)}
        if "path" in item:
            out: dict[str, Any] = {}
            with _at(f"{key}.path"):
                out["path"] = normalize_path(self.take(f"{key}.path"), self.base)
            with _at(f"{key}.method"):
                out["method"] = _need_choice(self.take(f"{key}.method", "pip"), INSTALL_METHODS)
            with _at(f"{key}.extra_requirements"):
                extras = _need_list(self.take(f"{key}.extra_requirements", []))
                if extras and out["method"] != "pip":
                    raise ConfigError(
                        f"{key}.extra_requirements",
                        PIP_REQUIRED,
                        "extra_requirements can be used only with method: pip",
                    )
                out["extra_requirements"] = [_need_str(e) for e in extras]
            return out
        raise ConfigError(
            key,
            PATH_OR_REQUIREMENTS_REQUIRED,
            "each python.install item needs requirements or path",
        )

    def uv_install(self, key: str, item: dict[Any, Any], count: int) -> dict[str, Any]:
        if count > 1:
            raise ConfigError(
                "python.install",
                UV_MULTIPLE_ENTRIES,
                "a method: uv item must be the only python.install item",
            )
        self.take(f"{key}.method")
        command = self.take(f"{key}.command")
        if command is None:
            raise ConfigError(
                f"{key}.command", UV_COMMAND_REQUIRED, "method: uv needs command: sync or pip"
            )
        with _at(f"{key}.command"):
            _need_choice(command, UV_COMMANDS)
        out: dict[str, Any] = {"method": "uv", "command": command}
        out["path"] = self._optional_path(f"{key}.path")
        out["requirements"] = None
        if command == "pip":
            has_req = item.get("requirements") is not None
            has_path = out["path"] is not None
            if has_req == has_path:
                raise ConfigError(
                    key,
                    PATH_OR_REQUIREMENTS_REQUIRED,
                    "uv pip needs exactly one of requirements or path",
                )
            out["requirements"] = self._optional_path(f"{key}.requirements")
            out["groups"] = None
        else:
            out["groups"] = self._uv_selection(f"{key}.groups")
        out["extras"] = self._uv_selection(f"{key}.extras")
        return out

    def _optional_path(self, key: str) -> str | None:
        value = self.take(key)
        if value is None:
            return None
        with _at(key):
            return normalize_path(value, self.base)

    def _uv_selection(self, key: str) -> list[str] | str | None:
        value = self.take(key)
        if value is None or value == ALL:
            return value
        with _at(key):
            items = _need_list(value)
            if not items:
                raise _Invalid(INVALID_LIST, value)
            return [_need_str(v) for v in items]

    def mkdocs(self) -> dict[str, Any] | None:
        raw_mkdocs = self.raw.get("mkdocs")
        if raw_mkdocs is None:
            return None
        with _at("mkdocs"):
            _need_dict(raw_mkdocs)
        out: dict[str, Any] = {}
        with _at("mkdocs.configuration"):
            configuration = self.take("mkdocs.configuration")
            if configuration is not None:
                configuration = normalize_path(configuration, self.base)
            out["configuration"] = configuration
        with _at("mkdocs.fail_on_warning"):
            out["fail_on_warning"] = _need_bool(self.take("mkdocs.fail_on_warning", False))
        return out

    def sphinx(self) -> dict[str, Any] | None:
        raw_sphinx = self.raw.get("sphinx")
        if raw_sphinx is None:
            if self.out["mkdocs"] is not None:
                return None
            raw_sphinx = {}
        with _at("sphinx"):
            _need_dict(raw_sphinx)
        out: dict[str, Any] = {}
        with _at("sphinx.builder"):
            builder = _need_choice(self.take("sphinx.builder", "html"), SPHINX_BUILDERS)
            builder_stored = SPHINX_BUILDERS[builder]
        with _at("sphinx.configuration"):
            configuration = self.take("sphinx.configuration")
            if configuration is not None:
                configuration = normalize_path(configuration, self.base)
                if posixpath.basename(configuration) != "conf.py":
                    raise ConfigError(
                        "sphinx.configuration",
                        SPHINX_INVALID_CONFIG_FILE,
                        f"sphinx.configuration must name a conf.py file, got {configuration!r}",
                    )
        out["configuration"] = configuration
        out["builder"] = builder_stored
        with _at("sphinx.fail_on_warning"):
            out["fail_on_warning"] = _need_bool(self.take("sphinx.fail_on_warning", False))
        return out

    def submodules(self) -> dict[str, Any]:
        with _at("submodules"):
            _need_dict(self.raw.get("submodules", {}))
        out: dict[str, Any] = {}
        with _at("submodules.include"):
            include = self.take("submodules.include", [])
            if include != ALL:
                include = [_need_str(s) for s in _need_list(include)]
            out["include"] = include
        with _at("submodules.exclude"):
            exclude = self.take("submodules.exclude", [] if include else ALL)
            if exclude != ALL:
                exclude = [_need_str(s) for s in _need_list(exclude)]
            out["exclude"] = exclude
        if include and (exclude == ALL or exclude):
            raise ConfigError(
                "submodules",
                "config:submodules:include-exclude-together",
                "submodules.include and submodules.exclude cannot be used together",
            )
        with _at("submodules.recursive"):
            out["recursive"] = _need_bool(self.take("submodules.recursive", False))
        return out

    def search(self) -> dict[str, Any]:
        with _at("search"):
            _need_dict(self.raw.get("search", {}))
        out: dict[str, Any] = {}
        with _at("search.ranking"):
            ranking = _need_dict(self.take("search.ranking", {}))
            final: dict[str, int] = {}
            for pattern, rank in ranking.items():
                normalized = normalize_pattern(pattern)
                _need_choice(rank, range(-10, 11))
                final[normalized] = int(rank)
            out["ranking"] = final
        with _at("search.ignore"):
            ignore = _need_list(self.take("search.ignore", list(SEARCH_IGNORE_DEFAULT)))
            out["ignore"] = [normalize_pattern(p) for p in ignore]
        return out

    def new_jobs_overridden(self) -> bool:
        jobs = self.out["build"]["jobs"]
        if any(jobs.get(name) is not None for name in NULLABLE_JOBS):
            return True
        return any(v is not None for v in jobs["build"].values())

    def deprecated_implicit_keys(self) -> None:
        if self.out["build"]["commands"]:
            return
        has_sphinx = "sphinx" in self.source
        has_mkdocs = "mkdocs" in self.source
        if has_sphinx and not self.out["sphinx"]["configuration"]:
            raise ConfigError(
                "sphinx.configuration", SPHINX_MISSING_CONFIG, "sphinx.configuration is required"
            )
        if has_mkdocs and self.out["mkdocs"] is None:
            # The platform crashes here (mkdocs: null); the key is unknown as written.
            raise ConfigError("mkdocs", INVALID_KEY_NAME, "invalid configuration key: mkdocs")
        if has_mkdocs and not self.out["mkdocs"]["configuration"]:
            raise ConfigError(
                "mkdocs.configuration", MKDOCS_MISSING_CONFIG, "mkdocs.configuration is required"
            )
        if not has_sphinx and not has_mkdocs and not self.new_jobs_overridden():
            raise ConfigError(
                "sphinx.configuration",
                SPHINX_MISSING_CONFIG,
                "a sphinx key with sphinx.configuration (or mkdocs) is required",
            )

    def unknown_keys(self) -> None:
        self.take("version")
        path: list[str] = []
        node: Any = self.raw
        while isinstance(node, dict) and node:
            first = next(iter(node))
            path.append(str(first))
            node = node[first]
        if path:
            key = ".".join(path)
            raise ConfigError(key, INVALID_KEY_NAME, f"invalid configuration key: {key}")

    # -- the final configuration, keys in the platform's order ----------------------------
    def doctype(self) -> str:
        if self.out["build"]["commands"]:
            return GENERIC
        written = "sphinx" in self.source or "mkdocs" in self.source
        if self.new_jobs_overridden() and not written:
            return GENERIC
        if self.out["mkdocs"] is not None:
            return "mkdocs"
        return self.out["sphinx"]["builder"]

    def final(self) -> dict[str, Any]:
        build = self.out["build"]
        jobs: dict[str, Any] = {}
        for name in JOB_NAMES:
            if name == "build":
                given = build["jobs"]["build"]
                jobs["build"] = {kind: given.get(kind) for kind in BUILD_TYPES}
            else:
                jobs[name] = build["jobs"].get(name, None if name in NULLABLE_JOBS else [])
        tools = {
            name: {"version": version, "full_version": self.platform.tools[name][version]}
            for name, version in build["tools"].items()
        }
        return {
            "version": "2",
            "formats": self.out["formats"],
            "python": self.out["python"],
            "conda": self.out["conda"],
            "build": {
                "os": build["os"],
                "tools": tools,
                "jobs": jobs,
                "apt_packages": build["apt_packages"],
                "commands": build["commands"],
            },
            "doctype": self.doctype(),
            "sphinx": self.out["sphinx"],
            "mkdocs": self.out["mkdocs"],
            "submodules": self.out["submodules"],
            "search": self.out["search"],
        }


def check_version(data: dict[Any, Any]) -> str:
    """The platform accepts only version 2 (2, "2" or 2.0); a missing version means 2."""
    version = data.get("version", 2)
    try:
        ok = version in (2, "2") and not isinstance(version, bool)
    except TypeError:
        ok = False
    if not ok:
        raise ConfigError(
            "version",
            INVALID_VERSION,
            f"Invalid version of the configuration file: {_show(version)} (only 2 is supported)",
        )
    return "2"


def validate_v2(
    data: dict[Any, Any], platform: Platform, base: str, *, brownout: bool = False
) -> dict[str, Any]:
    """Validate a version 2 mapping and return the final config with every default."""
    check_version(data)
    return _V2(data, platform, base, brownout).run()
