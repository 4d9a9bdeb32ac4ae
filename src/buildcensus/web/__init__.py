"""The dashboard: the answers as pictures, served by `buildcensus serve` at `/`.

`router` is mounted by `buildcensus.service.create_app` without a scope dependency: the
dashboard does its own auth (a login page that keeps a session cookie, or `--public` mode,
which shows only values used by at least `--min-projects` projects). It also serves the
public package statistics of `buildcensus publish` at `/api/v1/public/...`. See
docs/dashboard.md.
"""

from buildcensus.web._routes import router

__all__ = ["router"]
