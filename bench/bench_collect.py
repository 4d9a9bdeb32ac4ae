"""Collector wall time vs the sequential commands a platform would otherwise run.

    python bench/bench_collect.py [--rounds 7] [--python PATH]

The baseline is the command set run one after another on the same environment:
`python --version`, `python -m pip list --format json`, `python -m pip list --not-required
--format json`, `dpkg-query -W`, `lsb_release -d` (skipped, and said so, when missing).
The collector is measured as the whole `buildcensus collect` process (import of the whole CLI +
every probe + writing the record), as the lean `python -m buildcensus.collect` process (same
command, only its own imports) and as the in-process `collect()` call. Rounds alternate baseline and
collector so machine noise hits both; medians are reported. Without `--python`, a venv with
Sphinx, sphinx-copybutton and furo is built (or reused) under the test cache folder.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PACKAGES = ("sphinx", "sphinx-copybutton", "furo")


def bench_venv() -> Path:
    """Build (once) a venv with a typical Sphinx doc stack; return its python."""
    root = Path(os.environ.get("BUILDCENSUS_TEST_CACHE") or tempfile.gettempdir())
    venv = root / "buildcensus-bench-venv"
    python = venv / "bin" / "python"
    if not (venv / ".ready").exists():
        shutil.rmtree(venv, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", *PACKAGES],
            check=True,
        )
        (venv / ".ready").write_text("ok")
    return python


def checkout(tmp: Path) -> Path:
    """A small project checkout: config, requirements, conf.py."""
    root = tmp / "checkout"
    (root / "docs").mkdir(parents=True)
    (root / ".readthedocs.yaml").write_text(
        "version: 2\nbuild:\n  os: ubuntu-24.04\n  tools:\n    python: '3.12'\n"
        "sphinx:\n  configuration: docs/conf.py\n"
        "python:\n  install:\n    - requirements: docs/requirements.txt\n"
    )
    (root / "docs" / "requirements.txt").write_text("sphinx>=7\nfuro\nsphinx-copybutton\n")
    (root / "docs" / "conf.py").write_text(
        "extensions = ['sphinx.ext.autodoc', 'sphinx_copybutton']\nhtml_theme = 'furo'\n"
    )
    return root


def baseline_commands(python: str) -> tuple[list[list[str]], list[str]]:
    """The sequential command set, and notes on what is missing here."""
    env_py = [python]
    cmds = [
        [*env_py, "--version"],
        [*env_py, "-m", "pip", "list", "--format", "json"],
        [*env_py, "-m", "pip", "list", "--not-required", "--format", "json"],
    ]
    notes = []
    for tool, args in (("dpkg-query", ["-W"]), ("lsb_release", ["-d"])):
        if shutil.which(tool):
            cmds.append([tool, *args])
        else:
            notes.append(f"`{tool}` is not installed here: left out of the baseline")
    return cmds, notes


def timed(fn) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--python", help="interpreter of the environment (default: a bench venv)")
    args = ap.parse_args()
    python = args.python or str(bench_venv())
    env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    cmds, notes = baseline_commands(python)

    from buildcensus.collect import CollectOptions, collect

    with tempfile.TemporaryDirectory() as tmp:
        root = checkout(Path(tmp))
        cli = [
            sys.executable, "-m", "buildcensus", "collect", "--checkout", str(root),
            "--python", python, "--project", "bench", "--version", "latest",
            "--build", "1", "--out", str(Path(tmp) / "record.json"),
        ]  # fmt: skip
        lean = [sys.executable, "-m", "buildcensus.collect", *cli[4:]]
        opts = CollectOptions(
            checkout=root, project="bench", version="latest", build_id=1, python=python
        )

        def run_baseline() -> None:
            for cmd in cmds:
                subprocess.run(cmd, check=True, capture_output=True, env=env)

        def run_cli() -> None:
            subprocess.run(cli, check=True, capture_output=True, env=env)

        def run_lean() -> None:
            subprocess.run(lean, check=True, capture_output=True, env=env)

        collect(opts)  # warm the file cache for both sides alike
        run_baseline()
        base, proc, leanp, inproc = [], [], [], []
        for _ in range(args.rounds):
            base.append(timed(run_baseline))
            proc.append(timed(run_cli))
            leanp.append(timed(run_lean))
            inproc.append(timed(lambda: collect(opts)))
        record = json.loads((Path(tmp) / "record.json").read_text())

    b, p, lp, i = (statistics.median(x) for x in (base, proc, leanp, inproc))
    n_pip = len(record["packages"]["pip"]["all"])
    n_apt = len(record["packages"]["apt"]["all"])
    print(f"environment: {python} ({n_pip} pip, {n_apt} apt packages); {args.rounds} rounds")
    print()
    print("| what | wall time | ratio to baseline |")
    print("|---|---:|---:|")
    print(f"| baseline: {len(cmds)} commands, sequential | {b * 1000:.0f} ms | 1.00 |")
    print(f"| `buildcensus collect` (whole process) | {p * 1000:.0f} ms | {p / b:.2f} |")
    print(f"| `python -m buildcensus.collect` (lean process) | {lp * 1000:.0f} ms | {lp / b:.2f} |")
    print(f"| `collect()` in-process (all probes) | {i * 1000:.0f} ms | {i / b:.2f} |")
    for note in notes:
        print(f"\nnote: {note}")
    errors = [e["probe"] for e in record["errors"]]
    print(f"\nrecord errors: {errors or 'none'}; goal: ratio <= 0.20")


if __name__ == "__main__":
    main()
