"""Collect one build record: every probe runs concurrently, and none can break the build.

Subprocess probes (pip metadata, dpkg-query, os-release through `--exec`, conda list) run
in threads with a shared deadline and an output cap; file readers (config, requirement files,
conf.py, mkdocs.yml) run beside them. Each failure becomes an `errors` entry, and the record is
built with `parse_record`, so what is written always validates.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name

from buildcensus.collect._conda import conda_list, read_conda_meta, read_environment
from buildcensus.collect._config import ConfigInfo, read_config
from buildcensus.collect._mkdocs import read_mkdocs
from buildcensus.collect._pip import (
    PipResult,
    pip_command,
    probe_metadata,
    probe_pip_list,
)
from buildcensus.collect._requirements import (
    parse_requirements_file,
    project_name_at,
    resolve_installed,
)
from buildcensus.collect._run import DEFAULT_MAX_OUTPUT, DEFAULT_TIMEOUT, ProbeFailure, Runner
from buildcensus.collect._sphinx import read_conf
from buildcensus.collect._system import probe_dpkg, probe_os, probe_python_version
from buildcensus.errors import RecordError
from buildcensus.names import normalize_apt
from buildcensus.record import BuildRecord, parse_record

SKIP_DIRS = {
    "node_modules",
    "site-packages",
    "_build",
    "build",
    "dist",
    "venv",
    "env",
    "__pycache__",
}
CONF_PLACES = (
    "docs/conf.py",
    "doc/conf.py",
    "docs/source/conf.py",
    "doc/source/conf.py",
    "source/conf.py",
    "conf.py",
)
MKDOCS_NAMES = ("mkdocs.yml", "mkdocs.yaml")
SPHINX_BUILDERS = {"sphinx": "html", "sphinx_htmldir": "dirhtml", "sphinx_singlehtml": "singlehtml"}
MAX_MESSAGE = 8000


@dataclass
class CollectOptions:
    """Everything `collect` needs to know (the command line, as data)."""

    checkout: Path
    project: str
    version: str
    build_id: int | str
    config: Path | None = None
    python: str | None = None
    conda_prefix: str | None = None
    exec_prefix: str | None = None
    build_start: datetime | None = None
    length: float | None = None
    success: bool | None = None
    commit: str | None = None
    trigger: str = "other"
    steps: list[tuple[str, float]] = field(default_factory=list)
    organization: str | None = None
    timeout: float = DEFAULT_TIMEOUT
    max_output: int = DEFAULT_MAX_OUTPUT
    env: dict[str, str] | None = None


@dataclass
class Collected:
    """The record, plus a log of what ran (for `--verbose`)."""

    record: BuildRecord
    log: list[str]


class _Errors:
    def __init__(self) -> None:
        self.items: list[dict[str, str]] = []

    def add(self, probe: str, message: object) -> None:
        text = " ".join(str(message).split()) or "failed"
        entry = {"probe": probe, "message": text[:MAX_MESSAGE]}
        if entry not in self.items and len(self.items) < 900:
            self.items.append(entry)


class Collector:
    """Runs the probes for one build and assembles the record."""

    def __init__(self, opts: CollectOptions, version: str, clock: Callable[[], float]) -> None:
        self.opts = opts
        self.version = version
        self.clock = clock
        self.started = clock()
        self.deadline = time.monotonic() + opts.timeout
        self.errors = _Errors()
        self.runner = Runner.from_prefix(
            opts.exec_prefix, timeout=opts.timeout, max_output=opts.max_output, env=opts.env
        )
        self.runner.deadline = self.deadline
        self.log = self.runner.log

    def remaining(self) -> float:
        return max(self.deadline - time.monotonic(), 0.2)

    # ------------------------------------------------------------------ probes

    def python_path(self) -> str | None:
        """The interpreter to probe: --python, the conda prefix's, or `python` on PATH."""
        if self.opts.python:
            return self.opts.python
        if self.opts.conda_prefix:
            return str(Path(self.opts.conda_prefix) / "bin" / "python")
        if not self.runner.local:
            return "python"
        return self.runner.which("python") or self.runner.which("python3")

    def probe_pip(self) -> PipResult | None:
        python = self.python_path()
        failure: ProbeFailure | None = None
        if python is None:
            failure = ProbeFailure("no python on PATH", kind="missing")
        else:
            try:
                return probe_metadata(self.runner, python)
            except ProbeFailure as exc:
                failure = exc
        self.errors.add("pip", f"metadata probe: {failure}")
        if failure.kind in ("timeout", "too-large"):
            return None  # a hung or flooding interpreter will not do better running pip
        pip = pip_command(self.runner, python if failure.kind != "missing" else None)
        if pip == ["pip"] and self.runner.local and not self.runner.which("pip"):
            self.errors.add("pip", "fallback: no pip on PATH")
            return None
        with ThreadPoolExecutor(2) as pool:
            futures = [
                pool.submit(self._pip_list, pip, not_required) for not_required in (False, True)
            ]
            lists = [f.result() for f in futures]
        if lists[0] is None:
            return None
        result = PipResult(all=lists[0], top_level=lists[1] or [], method="pip list")
        if lists[1] is None:
            result.problems.append("pip list --not-required failed; top_level left empty")
        return result

    def _pip_list(self, pip: list[str], not_required: bool) -> list[dict[str, Any]] | None:
        try:
            return probe_pip_list(self.runner, pip, not_required)
        except ProbeFailure as exc:
            self.errors.add("pip", f"fallback: {exc}")
            return None

    def probe_conda(self, config: Future[ConfigInfo]) -> list[dict[str, Any]] | None:
        prefix = self.opts.conda_prefix
        if prefix is None:
            cfg = self._config(config)
            conda = cfg.effective().get("conda") if cfg else None
            if not (isinstance(conda, dict) and conda.get("environment")):
                return None  # not a conda build
            prefix = (self.opts.env or os.environ).get("CONDA_PREFIX")
        if prefix and self.runner.local:
            try:
                return read_conda_meta(Path(prefix), self.opts.max_output)
            except ProbeFailure as exc:
                self.errors.add("conda", f"conda-meta: {exc}")
                if exc.kind == "too-large":
                    return None
        try:
            return conda_list(self.runner, prefix)
        except ProbeFailure as exc:
            self.errors.add("conda", exc)
            return None

    def probe_apt(self) -> list[dict[str, Any]] | None:
        try:
            return probe_dpkg(self.runner)
        except ProbeFailure as exc:
            self.errors.add("apt", exc)
            return None

    def probe_os(self) -> str | None:
        try:
            return probe_os(self.runner)
        except ProbeFailure as exc:
            self.errors.add("os", exc)
            return None

    def probe_config(self) -> ConfigInfo:
        info = read_config(self.opts.checkout, self.opts.config)
        for problem in info.problems:
            self.errors.add("config", problem)
        return info

    def _config(self, config: Future[ConfigInfo]) -> ConfigInfo | None:
        try:
            return config.result(timeout=self.remaining())
        except Exception:
            return None

    def probe_user_requirements(self, config: Future[ConfigInfo]) -> dict[str, Any]:
        """Requirement files and local paths the config installs, and the conda env file."""
        cfg = self._config(config)
        out: dict[str, Any] = {"pip": [], "conda": []}
        if cfg is None:
            return out
        eff = cfg.effective()
        base_dirs = [self.opts.checkout]
        if cfg.file is not None and cfg.file.parent.resolve() != self.opts.checkout.resolve():
            base_dirs.insert(0, cfg.file.parent)
        python = eff.get("python") if isinstance(eff.get("python"), dict) else {}
        installs = python.get("install") if isinstance(python.get("install"), list) else []
        for i, item in enumerate(installs):
            if not isinstance(item, dict):
                continue
            if isinstance(item.get("requirements"), str):
                path = self._in_checkout(item["requirements"], base_dirs)
                parsed = parse_requirements_file(path, self.opts.checkout)
                out["pip"] += parsed.requirements
                for problem in parsed.problems:
                    self.errors.add("requirements", problem)
            elif isinstance(item.get("path"), str):
                out["pip"].append(self._local_install(item, i, base_dirs, cfg))
        conda = eff.get("conda") if isinstance(eff.get("conda"), dict) else {}
        if isinstance(conda.get("environment"), str):
            path = self._in_checkout(conda["environment"], base_dirs)
            env = read_environment(path, self.opts.checkout)
            out["conda"] = env.requirements
            for problem in env.problems:
                self.errors.add("conda-environment", problem)
        return out

    def _in_checkout(self, rel: str, bases: list[Path]) -> Path:
        """The file a config path names; never one outside the checkout (hostile configs)."""
        chosen = next((base / rel for base in bases if (base / rel).exists()), bases[-1] / rel)
        if not chosen.resolve().is_relative_to(self.opts.checkout.resolve()):
            raise ProbeFailure(f"{rel}: outside the checkout; not read")
        return chosen

    def _local_install(
        self, item: dict[str, Any], index: int, bases: list[Path], cfg: ConfigInfo
    ) -> dict[str, Any]:
        path = self._in_checkout(item["path"], bases)
        name = project_name_at(path) or item["path"]
        extras = item.get("extra_requirements") or []
        return {
            "name": name,
            "specifier": "",
            "extras": sorted(str(e) for e in extras if isinstance(e, str)),
            "marker": None,
            "url": item["path"],
            "editable": False,
            "source": f"{cfg.path or 'config'}: python.install.{index}",
            "_path": str(path.resolve()),
        }

    def probe_doctool(self, config: Future[ConfigInfo]) -> dict[str, Any]:
        """Which doc tool, and its extensions/theme/plugins, read statically from its config."""
        cfg = self._config(config)
        eff = cfg.effective() if cfg else {}
        user = (cfg.user if cfg and isinstance(cfg.user, dict) else None) or {}
        sphinx = eff.get("sphinx") if isinstance(eff.get("sphinx"), dict) else {}
        mkdocs = eff.get("mkdocs") if isinstance(eff.get("mkdocs"), dict) else {}
        doctype = eff.get("doctype")
        root = self.opts.checkout
        bases = [root] if cfg is None or cfg.file is None else [cfg.file.parent, root]
        wants_mkdocs = doctype == "mkdocs" or "mkdocs" in user or bool(mkdocs)
        mk = mkdocs.get("configuration")
        mk_path = self._in_checkout(mk, bases) if isinstance(mk, str) else self._find_mkdocs(root)
        if wants_mkdocs and mk_path is not None:
            return self._mkdocs(mk_path)
        conf = sphinx.get("configuration")
        conf_path = self._in_checkout(conf, bases) if isinstance(conf, str) else None
        if conf_path is None and not wants_mkdocs:
            conf_path = self._find_conf(root)
        if conf_path is None and mk_path is not None:
            return self._mkdocs(mk_path)
        if conf_path is None:
            if wants_mkdocs or doctype or "sphinx" in user:
                self.errors.add("doctool", "no conf.py or mkdocs.yml found in the checkout")
            return {}
        out: dict[str, Any] = {"name": "sphinx"}
        builder = sphinx.get("builder")
        if isinstance(builder, str):
            out["builder"] = SPHINX_BUILDERS.get(builder, builder)
        settings = read_conf(conf_path, label=self._rel(conf_path))
        out.update(extensions=settings.extensions, theme=settings.theme)
        for note in settings.notes:
            self.errors.add("doctool", note)
        return out

    def _mkdocs(self, path: Path) -> dict[str, Any]:
        settings = read_mkdocs(path, root=self.opts.checkout)
        for problem in settings.problems:
            self.errors.add("doctool", f"{self._rel(path)}: {problem}")
        return {
            "name": "mkdocs",
            "theme": settings.theme,
            "plugins": settings.plugins,
            "markdown_extensions": settings.markdown_extensions,
        }

    def _rel(self, path: Path) -> str:
        try:
            return str(path.resolve().relative_to(self.opts.checkout.resolve()))
        except (ValueError, OSError):
            return str(path)

    def _find_mkdocs(self, root: Path) -> Path | None:
        for name in MKDOCS_NAMES:
            if (root / name).is_file():
                return root / name
        return None

    def _find_conf(self, root: Path) -> Path | None:
        """conf.py in the usual places, else the shallowest one (breadth-first, bounded)."""
        for rel in CONF_PLACES:
            if (root / rel).is_file():
                return root / rel
        level = [root]
        for _ in range(4):
            next_level: list[Path] = []
            for folder in level:
                try:
                    entries = sorted(os.scandir(folder), key=lambda e: e.name)
                except OSError:
                    continue
                for entry in entries:
                    if entry.name == "conf.py" and entry.is_file(follow_symlinks=False):
                        return Path(entry.path)
                    if (
                        entry.is_dir(follow_symlinks=False)
                        and not entry.name.startswith(".")
                        and entry.name not in SKIP_DIRS
                    ):
                        next_level.append(Path(entry.path))
            level = next_level[:2000]
        return None

    # ------------------------------------------------------------------ assembly

    def run(self) -> BuildRecord:
        """Run every probe (concurrently), wait within the deadline, build the record."""
        pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="probe")
        try:
            config = pool.submit(self.probe_config)
            tasks: dict[str, Future[Any]] = {
                "pip": pool.submit(self.probe_pip),
                "apt": pool.submit(self.probe_apt),
                "os": pool.submit(self.probe_os),
                "conda": pool.submit(self.probe_conda, config),
                "requirements": pool.submit(self.probe_user_requirements, config),
                "doctool": pool.submit(self.probe_doctool, config),
            }
            results: dict[str, Any] = {"config": self._wait("config", config)}
            for name, fut in tasks.items():
                results[name] = self._wait(name, fut)
        finally:
            pool.shutdown(wait=False, cancel_futures=True)
        return self.assemble(results)

    def _wait(self, name: str, fut: Future[Any]) -> Any:
        try:
            return fut.result(timeout=self.remaining() + 2.0)
        except FutureTimeout:
            self.errors.add(name, f"did not finish within {self.opts.timeout:g}s")
        except Exception as exc:  # a bug in a probe must not break the build
            self.errors.add(name, f"internal error: {type(exc).__name__}: {exc}")
        return None

    def assemble(self, r: dict[str, Any]) -> BuildRecord:
        cfg: ConfigInfo = r.get("config") or ConfigInfo()
        pip: PipResult | None = r.get("pip")
        conda_all: list[dict[str, Any]] | None = r.get("conda")
        apt_all: list[dict[str, Any]] | None = r.get("apt")
        user_reqs = r.get("requirements") or {"pip": [], "conda": []}
        if pip is not None:
            for problem in pip.problems:
                self.errors.add("pip", problem)
        installed = {
            canonicalize_name(p["name"]): p.get("version") for p in (pip.all if pip else [])
        }
        resolve_installed(user_reqs["pip"], installed, pip.locations if pip else None)

        python = self.python_version(pip, conda_all)
        tools = self.tools(cfg, python)
        apt_user = []
        eff = cfg.effective()
        build_cfg = eff.get("build") if isinstance(eff.get("build"), dict) else {}
        apt_versions = {normalize_apt(p["name"]): p.get("version") for p in apt_all or []}
        for name in build_cfg.get("apt_packages") or []:
            if isinstance(name, str) and name.strip():
                apt_user.append({"name": name, "version": apt_versions.get(normalize_apt(name))})

        build: dict[str, Any] = {
            "id": self.opts.build_id,
            "start": (self.opts.build_start or datetime.now(UTC)).isoformat(),
            "length": self.opts.length,
            "success": self.opts.success,
            "commit": self.opts.commit,
            "trigger": self.opts.trigger,
            "steps": [{"name": n, "seconds": s} for n, s in self.opts.steps],
        }
        doc: dict[str, Any] = {
            "schema_version": 1,
            "project": {"slug": self.opts.project},
            "version": {"slug": self.opts.version},
            "build": build,
            "config": {
                "user": cfg.user,
                "user_raw": cfg.user_raw,
                "final": cfg.final,
                "version": cfg.version,
                "path": cfg.path,
                "warnings": cfg.warnings,
            },
            "python": python,
            "os": r.get("os"),
            "tools": tools,
            "packages": {
                "pip": {
                    "user": user_reqs["pip"],
                    "top_level": pip.top_level if pip else [],
                    "all": pip.all if pip else [],
                },
                "conda": {"user": user_reqs["conda"], "all": conda_all or []},
                "apt": {"user": apt_user, "all": apt_all or []},
            },
            "doctool": r.get("doctool") or {},
            "errors": [],
            "collector": {"version": self.version, "seconds": None},
        }
        if self.opts.organization:
            doc["organization"] = {"slug": self.opts.organization}
        return self.validated(doc)

    def validated(self, doc: dict[str, Any]) -> BuildRecord:
        """parse_record, dropping (and reporting) any collected value the model rejects."""
        for _ in range(50):
            doc["errors"] = list(self.errors.items)
            doc["collector"]["seconds"] = round(max(self.clock() - self.started, 0.0), 4)
            try:
                return parse_record(doc)
            except RecordError as exc:
                if not exc.path or exc.path.split(".")[0] in ("project", "version", "build"):
                    raise
                self.errors.add("record", f"dropped {exc.path}: {exc.message}")
                _drop(doc, exc.path.split("."))
        raise RecordError("too many invalid collected values")

    def python_version(
        self, pip: PipResult | None, conda_all: list[dict[str, Any]] | None
    ) -> str | None:
        for pkg in conda_all or []:
            if pkg["name"] == "python" and pkg.get("version"):
                return str(pkg["version"])
        if pip is not None and pip.python:
            return pip.python
        python = self.python_path()
        if python is None or any(
            e["probe"] == "pip" and ("timed out" in e["message"] or "larger than" in e["message"])
            for e in self.errors.items
        ):
            return None
        try:
            return probe_python_version(self.runner, python)
        except ProbeFailure as exc:
            self.errors.add("python", exc)
            return None

    def tools(self, cfg: ConfigInfo, python: str | None) -> dict[str, str]:
        out: dict[str, str] = {}
        final = cfg.final if isinstance(cfg.final, dict) else cfg.effective()
        build = final.get("build") if isinstance(final.get("build"), dict) else {}
        tools = build.get("tools") if isinstance(build.get("tools"), dict) else {}
        for name, value in tools.items():
            if isinstance(value, dict):
                version = value.get("full_version") or value.get("version")
            else:
                version = value
            if version is not None:
                out[str(name)] = str(version)
        if python:
            out["python"] = python  # what the environment really runs
        return out


def _drop(doc: dict[str, Any], path: list[str]) -> None:
    """Remove the offending list item (or reset the offending field) named by `path`."""
    parent: Any = doc
    for i, part in enumerate(path[:-1]):
        nxt = parent[int(part)] if isinstance(parent, list) else parent.get(part)
        if nxt is None:
            return
        if isinstance(nxt, list) and i + 1 < len(path) and path[i + 1].isdigit():
            del nxt[int(path[i + 1])]
            return
        parent = nxt
    last = path[-1]
    if isinstance(parent, list) and last.isdigit():
        del parent[int(last)]
    elif isinstance(parent, dict):
        parent.pop(last, None)


def collect(opts: CollectOptions, *, clock: Callable[[], float] = time.monotonic) -> Collected:
    """Collect the record of one build. Never raises for anything the environment does."""
    from buildcensus import __version__

    collector = Collector(opts, __version__, clock)
    record = collector.run()
    return Collected(record=record, log=list(collector.log))


__all__ = ["CollectOptions", "Collected", "collect"]
