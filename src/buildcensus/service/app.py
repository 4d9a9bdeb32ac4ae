"""The one ASGI app: ingest API, and the reports API and dashboard when they are installed."""

from __future__ import annotations

import dataclasses
import gc
import importlib
import json
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI
from fastapi.openapi.utils import get_openapi
from starlette.types import Receive, Scope, Send

from buildcensus import __version__
from buildcensus.lake import open_lake
from buildcensus.lake.locks import lock_file_for
from buildcensus.record import BuildRecord
from buildcensus.service.auth import TokenStore, require_scope
from buildcensus.service.builds_api import router as builds_router
from buildcensus.service.fastpath import FastIngest
from buildcensus.service.http_errors import install_error_handlers
from buildcensus.service.ingest import Ingestor, OptOutList
from buildcensus.service.metrics import Metrics, MetricsMiddleware
from buildcensus.service.settings import Limits, ServiceSettings

log = logging.getLogger("buildcensus.service")

# Routers other stages provide: (module, scope required for all its routes or None).
OPTIONAL_ROUTERS: tuple[tuple[str, str | None], ...] = (
    ("buildcensus.service.reports_api", "read"),
    ("buildcensus.service.explain_api", "read"),
    ("buildcensus.web", None),  # the dashboard does its own auth (login page, public mode)
)


# Young-generation collections per allocated container: the default (700) runs one every few
# records, and every tenth of those walks older objects too (a validated record is a few
# hundred pydantic models, freed by reference counting; they hold no cycles).
GC_THRESHOLDS = (50_000, 20, 10)


def tune_gc() -> None:
    """Make the cyclic GC cheap for a long-running ingest process (call once, after start-up).

    `gc.freeze()` moves everything built so far (FastAPI, pydantic schemas, routers) out of
    the collector's reach, so later collections only walk what requests allocate; the higher
    threshold makes collections rarer. Reference counting still frees records at once.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


SETTINGS_ENV = "BUILDCENSUS_SERVICE_SETTINGS"


def settings_to_env(settings: ServiceSettings) -> str:
    """`settings` as JSON, for worker processes started by uvicorn (see `app_from_env`)."""
    data = dataclasses.asdict(settings)
    for key in ("tokens_file", "exclude_projects_file"):
        data[key] = None if data[key] is None else str(data[key])
    return json.dumps(data)


def settings_from_env(text: str) -> ServiceSettings:
    """The inverse of `settings_to_env`."""
    data = json.loads(text)
    for key in ("tokens_file", "exclude_projects_file"):
        data[key] = None if data[key] is None else Path(data[key])
    data["limits"] = Limits(**data["limits"])
    return ServiceSettings(**data)


def app_from_env() -> FastAPI:
    """The app of one uvicorn worker process (`serve --workers N`): settings from the
    environment, GC tuned as in a single-process `serve`."""
    app = create_app(settings_from_env(os.environ[SETTINGS_ENV]))
    tune_gc()
    return app


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    """The server's start and stop: the writer process starts with it (ready for the first
    records, not started by them) and stops with it."""
    ingestor = app.state.ingestor
    await ingestor.start_writer()
    try:
        yield
    finally:
        ingestor.close()


def _optional_router(module: str) -> Any:
    """`module.router`, or None when the module is absent or cannot be imported.

    The ingest API must keep running even when another stage's router is broken, so an
    import failure inside an existing module is logged rather than raised.
    """
    try:
        mod = importlib.import_module(module)
    except ImportError as exc:
        if not (isinstance(exc, ModuleNotFoundError) and exc.name == module):
            log.warning("router %s not mounted: %s", module, exc)
        return None
    router = getattr(mod, "router", None)
    if router is None:
        log.warning("router %s not mounted: the module has no `router`", module)
    return router


class ServiceApp(FastAPI):
    """FastAPI, with `fast` (when set) in front of it: `service.fastpath`."""

    fast: FastIngest | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.fast is not None:
            await self.fast(scope, receive, send)
        else:
            await super().__call__(scope, receive, send)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        """FastAPI's own handling (middleware, routing): what `fast` does not answer."""
        await super().__call__(scope, receive, send)


def create_app(settings: ServiceSettings, *, fast_path: bool = True) -> FastAPI:
    """Build the service: state on `app.state`, routes, JSON errors, metrics.

    `fast_path=False` leaves every request to FastAPI's routing (see `service.fastpath`).
    """
    app = ServiceApp(
        title="buildcensus",
        version=__version__,
        description="Build telemetry: builders post records; readers get reports and raw data.",
        openapi_url="/openapi.json",
        redoc_url=None,
        lifespan=_lifespan,
    )
    app.state.settings = settings
    app.state.lake_url = settings.lake_url
    app.state.warehouse_url = settings.warehouse_url
    app.state.public = settings.public
    app.state.min_projects = settings.min_projects
    app.state.tokens = TokenStore(settings.tokens_file)
    app.state.metrics = Metrics()
    lake = open_lake(settings.lake_url, group_commit=True)
    app.state.ingestor = Ingestor(
        lake,
        settings.limits,
        OptOutList(settings.exclude_projects_file),
        app.state.metrics,
        lock_file=lock_file_for(lake),
        writer=settings.writer_process,
    )
    install_error_handlers(app)
    app.include_router(builds_router)
    app.add_middleware(MetricsMiddleware, metrics=app.state.metrics)
    if fast_path:
        app.fast = FastIngest(app.handle, app.state.ingestor, app.state.tokens, app.state.metrics)
    for module, scope in OPTIONAL_ROUTERS:
        router = _optional_router(module)
        if router is not None:
            deps = [Depends(require_scope(scope))] if scope else []
            app.include_router(router, dependencies=deps)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


def _openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's schema plus the build record's models (request bodies are read raw)."""
    if app.openapi_schema is None:
        schema = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        record = BuildRecord.model_json_schema(ref_template="#/components/schemas/{model}")
        for name, definition in record.pop("$defs", {}).items():
            components.setdefault(name, definition)
        components.setdefault("BuildRecord", record)
        app.openapi_schema = schema
    return app.openapi_schema
