"""`python -m buildcensus.collect ...`: the `collect` command alone, with a lean start-up.

`buildcensus collect` loads every command of the CLI first; this entry loads only the collect
command's own module (the same options and behaviour), which matters at the end of a build.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path


def main() -> None:
    """Load `buildcensus/cli/_collect.py` by path (not the whole CLI package) and run it."""
    path = Path(__file__).resolve().parent.parent / "cli" / "_collect.py"
    spec = importlib.util.spec_from_file_location("buildcensus_collect_cli", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.lean_main(sys.argv[1:])


if __name__ == "__main__":
    main()
