"""The simulation: a platform of projects, each building on its own schedule.

Every project is simulated independently with its own random stream (seeded from the run's seed
and the project's index), so a run is deterministic for a seed and can be split across worker
processes by project. Build ids encode the start second and the project index, so merging the
projects' streams by id gives one global, time-ordered history.
"""

from __future__ import annotations

import heapq
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from buildcensus.errors import UsageError
from buildcensus.names import normalize_pip
from buildcensus.record import (
    AptPackages,
    BuildRecord,
    CondaPackages,
    ConfigPart,
    Packages,
    PipPackages,
)
from buildcensus.simulate._config import finalize, perturb, python_minor, raw_yaml, weighted
from buildcensus.simulate._data import (
    CONDA_FULL,
    IMAGE_SINCE,
    PYTHON_FULL,
    TOOL_FULL,
    apt_images,
    config_shapes,
)
from buildcensus.simulate._resolve import DISPLAY, Resolver, tail_version

COLLECTOR_VERSION = "0.1.0"
DEFAULT_PROJECTS = 20_000
BUILDS_PER_PROJECT_DAY = 0.5  # 10,000 builds/day for the default 20,000 active projects
MAX_PROJECTS = 999_999
MAX_RATE = 40.0  # builds/day of the busiest project (a few hundred to ~1,200 a month)
PARETO_ALPHA = 1.05
BUSY = 3.0  # builds/day above which a project is well kept: base failure rate at most 8%
_ID_EPOCH = int(datetime(2010, 1, 1, tzinfo=UTC).timestamp())
# Since 2023-09-25 the platform refuses to build without a config file.
CONFIG_REQUIRED_DAY = date(2023, 9, 25)
NO_CONFIG_SHARE = 0.04
# UTC hour-of-day weights (a working-day peak over Europe and the Americas).
HOURS = [2, 2, 2, 2, 3, 4, 6, 8, 9, 10, 10, 10, 11, 12, 13, 13, 12, 11, 9, 8, 6, 5, 4, 3]
WEEKDAY = [1.15, 1.15, 1.15, 1.15, 1.1, 0.6, 0.6]  # Monday..Sunday
TRIGGERS_LATEST = {"webhook": 0.80, "manual": 0.09, "api": 0.06, "other": 0.05}
SPHINX_THEMES = {
    "sphinx-rtd-theme": 0.45,
    "furo": 0.17,
    "pydata-sphinx-theme": 0.07,
    "sphinx-book-theme": 0.06,
    "": 0.25,
}
THEME_NAMES = {
    "sphinx-rtd-theme": "sphinx_rtd_theme",
    "furo": "furo",
    "pydata-sphinx-theme": "pydata_sphinx_theme",
    "sphinx-book-theme": "sphinx_book_theme",
}
SPHINX_EXTRAS = {
    "myst-parser": 0.25,
    "sphinx-copybutton": 0.20,
    "sphinx-autodoc-typehints": 0.12,
    "sphinx-design": 0.10,
    "nbsphinx": 0.08,
    "sphinxcontrib-bibtex": 0.04,
    "sphinx-tabs": 0.04,
    "sphinx-gallery": 0.03,
    "breathe": 0.03,
    "sphinxcontrib-mermaid": 0.03,
    "sphinx-click": 0.03,
    "recommonmark": 0.03,
    "sphinx-argparse": 0.02,
    "sphinx-autobuild": 0.03,
}
EXTENSION_OF = {
    "myst-parser": "myst_parser",
    "sphinx-copybutton": "sphinx_copybutton",
    "sphinx-autodoc-typehints": "sphinx_autodoc_typehints",
    "sphinx-design": "sphinx_design",
    "nbsphinx": "nbsphinx",
    "sphinxcontrib-bibtex": "sphinxcontrib.bibtex",
    "sphinx-tabs": "sphinx_tabs.tabs",
    "sphinx-gallery": "sphinx_gallery.gen_gallery",
    "breathe": "breathe",
    "sphinxcontrib-mermaid": "sphinxcontrib.mermaid",
    "sphinx-click": "sphinx_click",
    "recommonmark": "recommonmark",
    "sphinx-argparse": "sphinxarg.ext",
    "myst-nb": "myst_nb",
    "numpydoc": "numpydoc",
}
BUILTIN_EXTENSIONS = {
    "sphinx.ext.autodoc": 0.70,
    "sphinx.ext.intersphinx": 0.50,
    "sphinx.ext.viewcode": 0.45,
    "sphinx.ext.napoleon": 0.40,
    "sphinx.ext.mathjax": 0.30,
    "sphinx.ext.autosummary": 0.25,
    "sphinx.ext.todo": 0.20,
    "sphinx.ext.githubpages": 0.10,
    "sphinx.ext.graphviz": 0.08,
    "sphinx.ext.doctest": 0.08,
}
MKDOCS_EXTRAS = {
    "mkdocstrings-python": 0.30,
    "mkdocs-gen-files": 0.10,
    "mkdocs-literate-nav": 0.08,
    "mkdocs-section-index": 0.06,
    "mike": 0.08,
    "mkdocs-jupyter": 0.05,
}
PLUGIN_OF = {
    "mkdocstrings-python": "mkdocstrings",
    "mkdocstrings": "mkdocstrings",
    "mkdocs-autorefs": "autorefs",
    "mkdocs-gen-files": "gen-files",
    "mkdocs-literate-nav": "literate-nav",
    "mkdocs-section-index": "section-index",
    "mike": "mike",
    "mkdocs-jupyter": "mkdocs-jupyter",
}
MARKDOWN_EXTENSIONS = ["admonition", "toc", "attr_list", "md_in_html", "tables", "footnotes"]
PYMDOWNX = ["pymdownx.highlight", "pymdownx.superfences", "pymdownx.details", "pymdownx.tabbed"]
LIBS = ["numpy", "matplotlib", "pandas", "ipykernel", "pillow", "requests", "click", "attrs"]
WORDS = (
    "amber atlas birch cedar comet delta ember falcon fjord garnet harbor iris jasper kepler "
    "lagoon maple meadow nimbus onyx orbit pebble quartz raven sage summit tango tundra umber "
    "vector willow xenon yarrow zephyr arrow basalt cobalt dune echo flux glacier helix ion "
    "juniper kelp lumen mosaic nova opal prism quill ridge spruce tidal ultra vivid wren"
).split()
CONDA_LIBS = {
    "_libgcc_mutex": "0.1",
    "_openmp_mutex": "4.5",
    "bzip2": "1.0.8",
    "ca-certificates": "2024.8.30",
    "ld_impl_linux-64": "2.43",
    "libexpat": "2.6.4",
    "libffi": "3.4.2",
    "libgcc": "14.2.0",
    "libgomp": "14.2.0",
    "liblzma": "5.6.3",
    "libnsl": "2.0.1",
    "libsqlite": "3.47.2",
    "libuuid": "2.38.1",
    "libzlib": "1.3.1",
    "ncurses": "6.5",
    "openssl": "3.4.0",
    "readline": "8.2",
    "tk": "8.6.13",
    "tzdata": "2024b",
}


@dataclass(frozen=True)
class SimulateOptions:
    """What to simulate. `end` is the last simulated UTC day (inclusive)."""

    projects: int
    days: int
    seed: int
    end: date
    builds_per_day: float | None = None
    plant_regression: tuple[str, str] | None = None
    regression_fail: float = 0.6

    @property
    def start(self) -> date:
        """The first simulated day."""
        return self.end - timedelta(days=self.days - 1)

    @property
    def daily(self) -> float:
        """Expected builds per day for the whole platform."""
        if self.builds_per_day is not None:
            return self.builds_per_day
        return self.projects * BUILDS_PER_PROJECT_DAY


def check_options(opts: SimulateOptions) -> None:
    """Reject options the simulator cannot honour (UsageError)."""
    if not 1 <= opts.projects <= MAX_PROJECTS:
        raise UsageError(f"--projects must be between 1 and {MAX_PROJECTS}")
    if opts.days < 1:
        raise UsageError("--days must be at least 1")
    if opts.start < date(2010, 1, 1):
        raise UsageError("the simulated history must start in 2010 or later (see --end, --days)")
    if opts.builds_per_day is not None and opts.builds_per_day < 0:
        raise UsageError("--builds-per-day must not be negative")
    if not 0.0 <= opts.regression_fail <= 1.0:
        raise UsageError("--regression-fail-rate must be between 0 and 1")
    if opts.plant_regression is not None:
        from buildcensus.simulate._data import releases

        name, version = opts.plant_regression
        hist = releases().get(name)
        if hist is None or version not in {r.version for r in hist}:
            known = ", ".join(r.version for r in hist[-5:]) if hist else "none"
            raise UsageError(
                f"--plant-regression: {name}=={version} is not a known release "
                f"(latest known: {known})"
            )


def parse_regression(text: str) -> tuple[str, str]:
    """`PKG==VERSION` -> (normalized name, version)."""
    name, sep, version = text.partition("==")
    if not sep or not name.strip() or not version.strip():
        raise UsageError(f"--plant-regression expects PKG==VERSION, got {text!r}")
    return normalize_pip(name.strip()), version.strip()


def _poisson(rng: random.Random, lam: float) -> int:
    if lam <= 0:
        return 0
    if lam > 30:
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    limit, k, p = math.exp(-lam), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


def project_rates(opts: SimulateOptions) -> list[float]:
    """Expected builds per day of each project: Pareto-distributed, capped, summing to daily."""
    rng = random.Random(f"{opts.seed}:rates")
    w = [(1.0 - rng.random()) ** (-1.0 / PARETO_ALPHA) for _ in range(opts.projects)]
    for i in range(opts.projects):
        if _has_config(opts.seed, i) is False:
            w[i] *= 0.3
    total = opts.daily
    rates = w
    for _ in range(5):
        s = sum(rates)
        rates = [min(MAX_RATE, r * total / s) for r in rates] if s else rates
    return rates


def _has_config(seed: int, i: int) -> bool:
    return random.Random(f"{seed}:config:{i}").random() >= NO_CONFIG_SHARE


def _image(os_written: str, day: date) -> str:
    if os_written == "ubuntu-lts-latest":
        newest = "ubuntu-22.04"
        for img, since in IMAGE_SINCE.items():
            if since <= day:
                newest = img
        return newest
    return os_written


def _pin(rng: random.Random, res: Resolver, name: str, style: str, pin_day: date) -> str:
    if style == "unpinned" or not res.known(name):
        if style == "exact" and not res.known(name):
            return "==" + tail_version(name, pin_day)
        return ""
    version = res.version_at(name, "", (3, 12), pin_day)
    if version is None:
        return ""
    if style == "exact":
        return "==" + version
    major = version.split(".")[0]
    roll = rng.random()
    if roll < 0.55:
        return ">=" + ".".join(version.split(".")[:2])
    if roll < 0.8:
        return f"<{int(major) + 1}" if major.isdigit() and int(major) < 1000 else ""
    return "~=" + ".".join(version.split(".")[:2])


@dataclass
class Project:
    """A simulated project and the state that changes as it builds."""

    index: int
    id: int
    slug: str
    org: dict[str, Any] | None
    rate: float
    has_config: bool
    user: dict[str, Any] | None
    user_raw: str | None
    doctool: str | None
    reqs: list[tuple[str, str]]
    req_path: str | None
    own_package: str | None
    conda_reqs: list[dict[str, Any]]
    channel: str | None
    fail_base: float
    has_releases: bool
    uses_pr: bool
    tag_prefix: str
    release: list[int]
    html_seconds: float
    extensions: list[str]
    theme: str | None
    plugins: list[str]
    markdown_extensions: list[str]
    pin_bumps: list[date]
    fix_after: int
    breakage_failures: int = 0
    commit: str = ""
    pr: int = 0
    pr_commit: str = ""
    versions: dict[str, int] = field(default_factory=dict)
    last_second: int = -1


class Simulator:
    """Generates the records of one run (or of one worker's share of the projects)."""

    def __init__(self, opts: SimulateOptions) -> None:
        check_options(opts)
        self.opts = opts
        self.res = Resolver()
        table = config_shapes()
        self.shapes = table["shapes"]
        stats = table["stats"]
        self.pythons = {
            k: float(v)
            for k, v in stats["python"].items()
            if k in PYTHON_FULL or k in ("3", "latest")
        }
        self.oses = {
            k: float(v)
            for k, v in stats["os"].items()
            if k.startswith("ubuntu-") and k != "ubuntu-20.04"
        }
        pin = stats["pin_sphinx"]
        self.pin_styles = {k: float(v) for k, v in pin.items()}
        self.tail_pool = sorted(
            {
                n
                for s in self.shapes
                for n, _ in s["requirements"] or []
                if not self.res.known(n) and n not in ("sphinx", "mkdocs")
            }
        )
        self.rates = project_rates(opts)
        self._apt_cache: dict[tuple[str, tuple[str, ...]], AptPackages] = {}
        self._pip_cache: dict[Any, PipPackages] = {}
        self._conda_cache: dict[Any, CondaPackages] = {}
        self._pk_cache: dict[tuple[int, int, int], Packages] = {}
        self._cfg_cache: dict[Any, ConfigPart] = {}
        self._empty_conda = CondaPackages()
        self._no_packages = Packages()

    # ------------------------------------------------------------------ projects

    def project(self, i: int) -> Project:
        """Project `i` of the run, with its config, requirements and habits."""
        opts = self.opts
        rng = random.Random(f"{opts.seed}:project:{i}")
        slug = f"{rng.choice(WORDS)}-{rng.choice(WORDS)}-{i}"
        org = None
        if rng.random() < 0.25:
            o = int(rng.paretovariate(1.1)) % max(1, opts.projects // 20)
            org = {"id": 500_000 + o, "slug": f"org-{WORDS[o % len(WORDS)]}-{o}"}
        has_config = _has_config(opts.seed, i)
        shape = rng.choice(self.shapes)
        user = user_raw = None
        doctool: str | None = None
        reqs: list[tuple[str, str]] = []
        req_path = own = None
        conda_reqs: list[dict[str, Any]] = []
        channel = None
        if has_config:
            user = perturb(shape["user"], rng, self.pythons, self.oses, opts.end)
            user_raw = raw_yaml(user, rng)
            doctool = (
                "other"
                if user["build"].get("commands")
                else "mkdocs"
                if "mkdocs" in user
                else "sphinx"
            )
            for item in user.get("python", {}).get("install", []):
                if "requirements" in item and req_path is None:
                    req_path = item["requirements"]
                if "path" in item and own is None:
                    own = slug.rsplit("-", 1)[0]
            env = shape.get("conda_env")
            if "conda" in user:
                channel = (env or {}).get("channels", ["conda-forge"])[:1] or ["conda-forge"]
                channel = channel[0]
                for dep in (env or {}).get("conda", ["python", "sphinx", "pip"]):
                    name, spec = _split_dep(dep)
                    conda_reqs.append({"name": name, "specifier": spec, "channel": channel})
        pin_style = weighted(rng, self.pin_styles)
        pin_day = opts.start - timedelta(days=int(rng.expovariate(1 / 500)))
        if shape.get("requirements") and has_config:
            reqs = [(n, self._age_pin(n, s, pin_day)) for n, s in shape["requirements"]]
        elif doctool in ("sphinx", "mkdocs"):
            reqs = self._synth_requirements(rng, doctool, pin_style, pin_day)
        elif doctool is None:  # no config file: the platform's implicit Sphinx project
            doctool = "sphinx"
        for _ in range(min(8, int(rng.paretovariate(1.6)) - 1)):
            name = rng.choice(self.tail_pool + LIBS)
            if all(name != n for n, _ in reqs):
                reqs.append((name, _pin(rng, self.res, name, pin_style, pin_day)))
        extensions, theme, plugins, mdx = self._doctool(rng, doctool, reqs, user)
        rate = self.rates[i]
        bumps = [
            opts.start + timedelta(days=rng.randrange(opts.days))
            for _ in range(_poisson(rng, opts.days / 240))
        ]
        return Project(
            index=i,
            id=1000 + i,
            slug=slug,
            org=org,
            rate=rate,
            has_config=has_config,
            user=user,
            user_raw=user_raw,
            doctool=doctool,
            reqs=reqs,
            req_path=req_path,
            own_package=own,
            conda_reqs=conda_reqs,
            channel=channel,
            fail_base=min(0.6 if rate <= BUSY else 0.08, rng.betavariate(0.5, 9.0)),
            has_releases=rng.random() < 0.45,
            uses_pr=rng.random() < 0.35,
            tag_prefix=rng.choice(["v", "", "v"]),
            release=[rng.choice([0, 0, 1, 1, 2, 3]), rng.randrange(12), rng.randrange(5)],
            html_seconds=min(600.0, rng.lognormvariate(math.log(25), 0.9)),
            extensions=extensions,
            theme=theme,
            plugins=plugins,
            markdown_extensions=mdx,
            pin_bumps=sorted(bumps),
            fix_after=rng.randint(1, 6),
            commit=f"{rng.getrandbits(160):040x}",
        )

    def _synth_requirements(
        self, rng: random.Random, doctool: str, style: str, pin_day: date
    ) -> list[tuple[str, str]]:
        names: list[str] = []
        if doctool == "sphinx":
            names.append("sphinx")
            theme = weighted(rng, SPHINX_THEMES)
            if theme:
                names.append(theme)
            names += [n for n, p in SPHINX_EXTRAS.items() if rng.random() < p]
        else:
            names.append("mkdocs")
            if rng.random() < 0.75:
                names.append("mkdocs-material")
            names += [n for n, p in MKDOCS_EXTRAS.items() if rng.random() < p]
        return [
            (n, _pin(rng, self.res, n, style if rng.random() < 0.85 else "unpinned", pin_day))
            for n in names
        ]

    def _doctool(
        self,
        rng: random.Random,
        doctool: str | None,
        reqs: list[tuple[str, str]],
        user: dict[str, Any] | None,
    ) -> tuple[list[str], str | None, list[str], list[str]]:
        names = {n for n, _ in reqs}
        if doctool == "sphinx":
            ext = [e for e, p in BUILTIN_EXTENSIONS.items() if rng.random() < p]
            ext += [EXTENSION_OF[n] for n in sorted(names) if n in EXTENSION_OF]
            theme = next((THEME_NAMES[n] for n in THEME_NAMES if n in names), "alabaster")
            return ext, theme, [], []
        if doctool == "mkdocs":
            material = "mkdocs-material" in names
            theme = "material" if material else rng.choice(["readthedocs", "mkdocs"])
            plugins = ["search"] + sorted({PLUGIN_OF[n] for n in names if n in PLUGIN_OF})
            mdx = [m for m in MARKDOWN_EXTENSIONS if rng.random() < 0.5]
            if material:
                mdx += [m for m in PYMDOWNX if rng.random() < 0.6]
            return [], theme, plugins, mdx
        return [], None, [], []

    # ------------------------------------------------------------------ builds

    def builds(self, p: Project) -> Iterator[tuple[int, BuildRecord]]:
        """(build id, record) for every build of project `p`, in time order."""
        opts = self.opts
        rng = random.Random(f"{opts.seed}:builds:{p.index}")
        day_weights = [
            WEEKDAY[(opts.start + timedelta(days=d)).weekday()] for d in range(opts.days)
        ]
        n = _poisson(rng, p.rate * sum(day_weights))
        if n == 0:
            return
        days = sorted(rng.choices(range(opts.days), weights=day_weights, k=n))
        base = datetime.combine(opts.start, datetime.min.time(), tzinfo=UTC)
        times = sorted(
            base
            + timedelta(
                days=d, hours=rng.choices(range(24), weights=HOURS)[0], seconds=rng.randrange(3600)
            )
            for d in days
        )
        p_release = min(0.2, 1.0 / max(1.0, p.rate * 40)) if p.has_releases else 0.0
        for t in times:
            roll = rng.random()
            if roll < p_release:
                p.release[2] += 1
                if rng.random() < 0.3:
                    p.release[1], p.release[2] = p.release[1] + 1, 0
                tag = f"{p.tag_prefix}{p.release[0]}.{p.release[1]}.{p.release[2]}"
                p.commit = f"{rng.getrandbits(160):040x}"
                trig = "automation_rule" if rng.random() < 0.5 else "webhook"
                yield from self._emit(p, rng, t, tag, trig, p.commit)
                later = t + timedelta(seconds=rng.randrange(20, 300))
                yield from self._emit(p, rng, later, "stable", "webhook", p.commit)
                continue
            if p.uses_pr and rng.random() < 0.3:
                if p.pr == 0 or rng.random() < 0.35:
                    p.pr = p.index % 500 + 1 if p.pr == 0 else p.pr + rng.randint(1, 4)
                    p.pr_commit = f"{rng.getrandbits(160):040x}"
                elif rng.random() < 0.7:
                    p.pr_commit = f"{rng.getrandbits(160):040x}"
                yield from self._emit(p, rng, t, str(p.pr), "pull_request", p.pr_commit)
                continue
            if p.has_releases and rng.random() < 0.04:
                yield from self._emit(p, rng, t, "stable", "manual", p.commit)
                continue
            trig = weighted(rng, TRIGGERS_LATEST)
            if trig == "webhook" and rng.random() < 0.9:
                p.commit = f"{rng.getrandbits(160):040x}"
            yield from self._emit(p, rng, t, "latest", trig, p.commit)

    def _emit(
        self, p: Project, rng: random.Random, t: datetime, version: str, trigger: str, commit: str
    ) -> Iterator[tuple[int, BuildRecord]]:
        if t.date() > self.opts.end:
            return
        rec, bid = self._record(p, rng, t, version, trigger, commit)
        yield bid, rec
        # The same build again minutes later (a retried webhook, a double click): identical
        # content, so the lake stores it as a same-day duplicate.
        if rng.random() < 0.02:
            again = t + timedelta(seconds=rng.randrange(60, 1800))
            if again.date() == t.date():
                sec = self._second(p, again)
                bid2 = (sec - _ID_EPOCH) * 1_000_000 + p.index
                start = datetime.fromtimestamp(sec, UTC)
                length = _length([s.model_dump() for s in rec.build.steps], rng)
                build = rec.build.model_copy(update={"id": bid2, "start": start, "length": length})
                collector = rec.collector.model_copy(update={"seconds": _collector_seconds(rng)})
                yield bid2, rec.model_copy(update={"build": build, "collector": collector})

    def _second(self, p: Project, t: datetime) -> int:
        sec = max(int(t.timestamp()), p.last_second + 1)
        p.last_second = sec
        return sec

    def _record(
        self, p: Project, rng: random.Random, t: datetime, version: str, trigger: str, commit: str
    ) -> tuple[BuildRecord, int]:
        opts = self.opts
        sec = self._second(p, t)
        start = datetime.fromtimestamp(sec, UTC)
        day = start.date()
        bid = (sec - _ID_EPOCH) * 1_000_000 + p.index
        vid = p.versions.setdefault(version, p.id * 10_000 + len(p.versions) + 1)
        while p.pin_bumps and p.pin_bumps[0] <= day:
            p.pin_bumps.pop(0)
            p.reqs = [(n, self._bump(n, s, day)) for n, s in p.reqs]
        doc: dict[str, Any] = {
            "schema_version": 1,
            "project": {"id": p.id, "slug": p.slug},
            "version": {"id": vid, "slug": version},
            "build": {"id": bid, "start": start, "commit": commit, "trigger": trigger},
            "collector": {"version": COLLECTOR_VERSION, "seconds": _collector_seconds(rng)},
        }
        if p.org is not None:
            doc["organization"] = p.org
        if not p.has_config and day >= CONFIG_REQUIRED_DAY:
            steps = [_step("checkout", rng.lognormvariate(math.log(4), 0.6))]
            doc["build"].update(success=False, steps=steps, length=_length(steps, rng))
            return _assemble(doc, self._config_part(p, None, None), self._no_packages), bid
        user = p.user or {"version": 2, "build": {"os": "ubuntu-22.04", "tools": {"python": "3"}}}
        b = user["build"]
        image = _image(b["os"], day)
        py_written = b["tools"]["python"]
        conda = py_written in CONDA_FULL
        minor = _conda_python(p) if conda else python_minor(py_written, day)
        py = (int(minor.split(".")[0]), int(minor.split(".")[1]))
        implied = [] if any(n == p.doctool for n, _ in p.reqs) else [(p.doctool or "sphinx", "")]
        if p.doctool == "other":
            implied = []
        base = [("pip", ""), ("setuptools", "")]
        top = p.reqs + implied + base
        resolution = self.res.resolve(top, py, day)
        installed = dict(resolution)
        for n, s in p.reqs:
            if not self.res.known(n) and n not in installed:
                installed[n] = s[2:] if s.startswith("==") else tail_version(n, day)
        for n, s in p.reqs:  # an exact pin to a version the histories don't list
            if s.startswith("==") and "*" not in s and n not in installed and self.res.known(n):
                if self.res.before_history_ends(n, s[2:], day):
                    installed[n] = s[2:]  # an old patch release the table skips
                elif (newest := self.res.version_at(n, "", py, day)) is not None:
                    installed[n] = newest  # a release after the data: not out yet in the past
        own_version = f"{p.release[0]}.{p.release[1]}.{p.release[2]}"
        if p.own_package:
            installed[p.own_package] = own_version
        # Did it fail, and why?
        fail = p.fail_base
        broken, fix = self.res.broken(installed)
        regression = False
        if opts.plant_regression is not None:
            name, ver = opts.plant_regression
            regression = installed.get(name) == ver
            if regression:
                fail = max(fail, opts.regression_fail)
        fail = 1 - (1 - fail) * (1 - broken)
        success = rng.random() >= fail
        if not success and broken and fix is not None:
            p.breakage_failures += 1
            if p.breakage_failures >= p.fix_after and all(n != fix[0] for n, _ in p.reqs):
                p.reqs = [*p.reqs, fix]
        steps = self._steps(p, rng, user, success, conda, len(installed))
        doc["build"].update(success=success, steps=steps, length=_length(steps, rng))
        final_key = (python_minor(py_written, day) if not conda else py_written, b["os"])
        config = self._config_part(p, final_key, day)
        doc["python"] = PYTHON_FULL.get(minor, minor)
        doc["os"] = image
        tools = {"python": PYTHON_FULL.get(minor, minor), "pip": installed.get("pip", "")}
        for name, v in b["tools"].items():
            if name != "python":
                tools[name] = TOOL_FULL[name][v]
        if conda:
            tools["conda"] = CONDA_FULL[py_written]
        doc["tools"] = {k: v for k, v in tools.items() if v}
        packages = self._packages(p, image, resolution, installed, top, conda, user)
        doc["doctool"] = {
            "name": p.doctool,
            "extensions": p.extensions,
            "theme": p.theme,
            "plugins": p.plugins,
            "markdown_extensions": p.markdown_extensions,
            "builder": _builder(user) if p.doctool == "sphinx" else p.doctool,
        }
        if rng.random() < 0.004:
            doc["errors"] = [{"probe": "apt", "message": "dpkg-query timed out after 5.0 s"}]
        if rng.random() < 0.01:
            doc["redactions"] = rng.randint(1, 2)
        return _assemble(doc, config, packages), bid

    def _age_pin(self, name: str, spec: str, pin_day: date) -> str:
        """A real file's exact pin to a release newer than the window start is moved back to
        the release current on the project's pin day (no one pins a future release)."""
        if not spec.startswith("==") or not self.res.known(name):
            return spec
        released = self.res.release_day(name, spec[2:])
        start = self.opts.start
        if (released is not None and released > start) or (
            released is None and not self.res.before_history_ends(name, spec[2:], start)
        ):
            older = self.res.version_at(name, "", (3, 12), min(pin_day, start))
            return "==" + older if older else spec
        return spec

    def _bump(self, name: str, spec: str, day: date) -> str:
        """A maintainer moves an exact pin to the newest release (pinned projects do, rarely)."""
        if not spec.startswith("=="):
            return spec
        if not self.res.known(name):
            return "==" + tail_version(name, day)
        newest = self.res.version_at(name, "", (3, 12), day)
        return "==" + newest if newest else spec

    def _config_part(self, p: Project, key: Any, day: date | None) -> ConfigPart:
        ck = (p.index, key)
        hit = self._cfg_cache.get(ck)
        if hit is None:
            if p.user is None or day is None:
                hit = ConfigPart()
            else:
                hit = ConfigPart.model_validate(
                    {
                        "user": p.user,
                        "user_raw": p.user_raw,
                        "final": finalize(p.user, day),
                        "version": "2",
                        "path": ".readthedocs.yaml",
                    }
                )
            if len(self._cfg_cache) > 50_000:
                self._cfg_cache.clear()
            self._cfg_cache[ck] = hit
        return hit

    def _packages(
        self,
        p: Project,
        image: str,
        resolution: tuple[tuple[str, str], ...],
        installed: dict[str, str],
        top: list[tuple[str, str]],
        conda: bool,
        user: dict[str, Any],
    ) -> Packages:
        apt_user = tuple(user["build"].get("apt_packages", ()))
        apt = self._apt_cache.get((image, apt_user))
        if apt is None:
            versions = {a["name"]: a["version"] for a in apt_images()[image]}
            apt = AptPackages.model_validate(
                {
                    "user": [{"name": n, "version": versions.get(n.lower())} for n in apt_user],
                    "all": apt_images()[image],
                }
            )
            self._apt_cache[(image, apt_user)] = apt
        pip_key = (p.index, tuple(sorted(installed.items())), tuple(top))
        pip = self._pip_cache.get(pip_key)
        if pip is None:
            tops = {n for n, _ in top if n in installed}
            if p.own_package:
                tops.add(p.own_package)
            source = p.req_path or None
            pip = PipPackages.model_validate(
                {
                    "user": [
                        {
                            "name": DISPLAY.get(n, n),
                            "normalized": n,
                            "specifier": s,
                            "source": source,
                            "installed": installed.get(n),
                        }
                        for n, s in p.reqs
                    ],
                    "top_level": [
                        {"name": DISPLAY.get(n, n), "normalized": n, "version": installed[n]}
                        for n in sorted(tops)
                    ],
                    "all": [
                        {"name": DISPLAY.get(n, n), "normalized": n, "version": v}
                        for n, v in sorted(installed.items())
                    ],
                }
            )
            if len(self._pip_cache) > 20_000:
                self._pip_cache.clear()
            self._pip_cache[pip_key] = pip
        condam = self._empty_conda
        if conda:
            ck = (p.index, pip_key[1])
            condam = self._conda_cache.get(ck)
            if condam is None:
                condam = self._conda(p, installed)
                if len(self._conda_cache) > 20_000:
                    self._conda_cache.clear()
                self._conda_cache[ck] = condam
        pk_key = (id(pip), id(condam), id(apt))
        hit = self._pk_cache.get(pk_key)
        # The parts are kept alive by the Packages they belong to, so their ids stay unique.
        if hit is None or hit.pip is not pip or hit.conda is not condam or hit.apt is not apt:
            hit = Packages.model_validate({"pip": pip, "conda": condam, "apt": apt})
            if len(self._pk_cache) > 20_000:
                self._pk_cache.clear()
            self._pk_cache[pk_key] = hit
        return hit

    def _conda(self, p: Project, installed: dict[str, str]) -> CondaPackages:
        channel = p.channel or "conda-forge"
        py_full = PYTHON_FULL.get(_conda_python(p), "3.12.13")
        wanted = {normalize_pip(r["name"]) for r in p.conda_reqs}
        rows = [
            {"name": n, "version": v, "channel": channel, "build": "h0"}
            for n, v in CONDA_LIBS.items()
        ]
        rows.append(
            {"name": "python", "version": py_full, "channel": channel, "build": "hab00c5b_0"}
        )
        for n, v in installed.items():
            if n in wanted or n in ("pip", "setuptools") or self.res.known(n):
                rows.append({"name": n, "version": v, "channel": channel, "build": "pyhd8ed1ab_0"})
        return CondaPackages.model_validate(
            {
                "user": [
                    {"name": r["name"], "specifier": r["specifier"], "channel": r["channel"]}
                    for r in p.conda_reqs
                ],
                "all": sorted(rows, key=lambda r: r["name"]),
            }
        )

    def _steps(
        self,
        p: Project,
        rng: random.Random,
        user: dict[str, Any],
        success: bool,
        conda: bool,
        n_packages: int,
    ) -> list[dict[str, Any]]:
        b = user["build"]
        lv = rng.lognormvariate
        plan: list[tuple[str, float]] = [("checkout", lv(math.log(4), 0.6))]
        if b.get("apt_packages"):
            plan.append(("system_dependencies", lv(math.log(25), 0.5)))
        if b.get("commands"):
            plan.append(("build.commands", p.html_seconds * lv(0, 0.25) * 1.5))
        else:
            for job in b.get("jobs", {}):
                plan.append((f"build.jobs.{job}", lv(math.log(8), 1.0)))
            env = lv(math.log(90), 0.6) if conda else lv(math.log(4), 0.4)
            plan.append(("create_environment", env))
            plan.append(("install", lv(math.log(6 + n_packages * 0.6), 0.6)))
            plan.append(("build_html", p.html_seconds * lv(0, 0.25)))
            fmts = user.get("formats", [])
            fmts = ["htmlzip", "pdf", "epub"] if fmts == "all" else fmts
            factors = {"pdf": 2.5, "epub": 0.6, "htmlzip": 0.2}
            for f in fmts:
                plan.append((f"build_{f}", p.html_seconds * factors[f] * lv(0, 0.3)))
        plan.append(("upload", lv(math.log(3 + p.html_seconds / 15), 0.6)))
        if not success:
            weights = [0.05 if n in ("checkout", "upload") else 1.0 for n, _ in plan]
            weights = [
                w * (2.0 if n.startswith("build") else 1.0)
                for w, (n, _) in zip(weights, plan, strict=True)
            ]
            stop = rng.choices(range(len(plan)), weights=weights)[0]
            plan = plan[: stop + 1]
            name, secs = plan[-1]
            plan[-1] = (name, secs * rng.uniform(0.1, 1.0))
        return [_step(n, s) for n, s in plan]

    # ------------------------------------------------------------------ runs

    def records(self, worker: int = 0, workers: int = 1) -> Iterator[BuildRecord]:
        """Every record of this worker's projects (index % workers == worker), in id order."""
        streams = [self.builds(self.project(i)) for i in range(worker, self.opts.projects, workers)]
        for _bid, rec in heapq.merge(*streams, key=lambda item: item[0]):
            yield rec


def _assemble(doc: dict[str, Any], config: ConfigPart, packages: Packages) -> BuildRecord:
    """Validate the per-build part of a record and attach the heavy parts, which were validated
    once when first built (the same config and package lists recur across many builds)."""
    rec = BuildRecord.model_validate(doc)
    rec.config = config
    rec.packages = packages
    return rec


def _split_dep(dep: str) -> tuple[str, str]:
    for i, ch in enumerate(dep):
        if ch in "=<>!~ ":
            spec = dep[i:].strip()
            if spec.startswith("=") and not spec.startswith("=="):
                spec = "=" + spec
            return dep[:i].strip(), spec
    return dep.strip(), ""


def _conda_python(p: Project) -> str:
    for r in p.conda_reqs:
        if r["name"] == "python":
            digits = r["specifier"].lstrip("=<>~! ").split(".")
            if len(digits) >= 2 and f"{digits[0]}.{digits[1]}" in PYTHON_FULL:
                return f"{digits[0]}.{digits[1]}"
    return "3.12"


def _builder(user: dict[str, Any]) -> str:
    return user.get("sphinx", {}).get("builder", "html")


def _step(name: str, seconds: float) -> dict[str, Any]:
    return {"name": name, "seconds": round(seconds, 2)}


def _length(steps: list[dict[str, Any]], rng: random.Random) -> float:
    return round(sum(s["seconds"] for s in steps) + rng.uniform(3, 12), 1)


def _collector_seconds(rng: random.Random) -> float:
    return round(rng.lognormvariate(math.log(0.6), 0.4), 3)
