"""Schemathesis against /openapi.json (bounded): no 5xx, every response matches the schema."""

from __future__ import annotations

from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import checks

from buildcensus.service import create_app

from .conftest import Tokens, auth, make_settings

CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
    checks.response_headers_conformance,
]


@pytest.fixture
def api_schema(tmp_path: Path, tokens: Tokens) -> schemathesis.schemas.BaseSchema:
    app = create_app(make_settings(tmp_path, tokens, max_body_bytes=500_000, max_batch=20))
    return schemathesis.openapi.from_asgi("/openapi.json", app)


# This stage's routes only; the reports and explain routers mounted beside them test their own.
OWN_PATHS = r"^/api/v1/builds(/batch|/\{build_id\})?$|^/api/v1/health$|^/metrics$"
schema = schemathesis.pytest.from_fixture("api_schema").include(path_regex=OWN_PATHS)


@schema.parametrize()
@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_conforms(case: schemathesis.Case, tokens: Tokens) -> None:
    token = tokens.write if case.method.upper() == "POST" else tokens.read
    response = case.call_and_validate(headers=auth(token), checks=CHECKS)
    assert response.status_code < 500
