"""The ingest API in-process (httpx.ASGITransport): storing, retries, errors, auth, batches."""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import APIRouter

from buildcensus.lake import open_lake
from buildcensus.record import parse_record
from buildcensus.service import create_app
from buildcensus.service.auth import TOKEN_COOKIE, create_token

from .conftest import Tokens, auth, make_settings

pytestmark = pytest.mark.anyio

KEY = "telemetry/builds/2026/12/2026-12-01-42.json"


def post(client: httpx.AsyncClient, body: Any, token: str, **kw: Any) -> Any:
    headers = {"content-type": "application/json", **auth(token), **kw.pop("headers", {})}
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return client.post("/api/v1/builds", content=content, headers=headers, **kw)


def lake_keys(tmp_path: Path) -> list[str]:
    return list(open_lake(str(tmp_path / "lake")).iter_keys())


def assert_error(resp: httpx.Response, status: int, code: str, path: str | None = None) -> None:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/json")
    err = resp.json()["error"]
    assert err["code"] == code, err
    assert err["message"]
    if path is not None:
        assert err["path"] == path


async def test_store_then_retry_is_duplicate(client, tokens, record_dict, tmp_path):
    r1 = await post(client, record_dict, tokens.write)
    assert r1.status_code == 201
    assert r1.json() == {
        "status": "stored",
        "http_status": 201,
        "key": KEY,
        "build_id": 42,
        "duplicate": False,
        "duplicate_of": None,
    }
    r2 = await post(client, record_dict, tokens.write)  # a client retry after a lost response
    assert r2.status_code == 200
    assert r2.json()["status"] == "duplicate" and r2.json()["duplicate"] is True
    assert r2.json()["key"] == KEY
    assert lake_keys(tmp_path) == [KEY]
    stored = open_lake(str(tmp_path / "lake")).load(KEY)
    assert stored["packages"]["pip"]["all"][0]["name"] == "Sphinx"


async def test_same_day_duplicate_content_points_at_original(client, tokens, record_dict):
    await post(client, record_dict, tokens.write)
    record_dict["build"]["id"] = 43
    r = await post(client, record_dict, tokens.write)
    assert r.status_code == 200
    assert r.json()["duplicate_of"] == KEY
    assert r.json()["key"].startswith("telemetry/duplicates/")


async def test_same_id_other_content_is_409(client, tokens, record_dict):
    await post(client, record_dict, tokens.write)
    record_dict["python"] = "3.13.0"
    assert_error(await post(client, record_dict, tokens.write), 409, "conflict", "build.id")


async def test_legacy_shape_accepted(client, tokens):
    flat = {"project": "demo", "version": "latest", "build": 7, "date": "2026-12-01T00:00:00Z"}
    r = await post(client, flat, tokens.write)
    assert r.status_code == 201
    assert r.json()["build_id"] == 7


# ------------------------------------------------------------------------------ auth


async def test_auth_and_scopes(client, tokens, record_dict):
    r = await post(client, record_dict, "", headers={"authorization": ""})
    assert_error(r, 401, "unauthorized")
    assert r.headers["www-authenticate"] == "Bearer"
    assert_error(await post(client, record_dict, "bct_not-a-token"), 401, "unauthorized")
    r = await post(client, record_dict, tokens.write, headers={"authorization": "Basic eDp5"})
    assert_error(r, 401, "unauthorized")
    assert_error(await post(client, record_dict, tokens.read), 403, "forbidden")
    assert (await post(client, record_dict, tokens.write)).status_code == 201
    # write does not imply read
    assert_error(
        await client.get("/api/v1/builds/42", headers=auth(tokens.write)), 403, "forbidden"
    )
    assert (await client.get("/api/v1/builds/42", headers=auth(tokens.read))).status_code == 200
    assert (await client.get("/api/v1/builds/42", headers=auth(tokens.both))).status_code == 200
    assert (await post(client, record_dict, tokens.both)).status_code == 200


async def test_cookie_reads_but_never_writes(client, tokens, record_dict):
    client.cookies.set(TOKEN_COOKIE, tokens.both)
    r = await client.get("/api/v1/builds/42")
    assert_error(r, 404, "not_found", "build_id")  # authenticated, the build just is not there
    r = await client.post("/api/v1/builds", json=record_dict)
    assert_error(r, 401, "unauthorized")


async def test_new_token_works_without_restart(client, tokens, record_dict):
    late = create_token(tokens.file, "late", ["write"])
    assert (await post(client, record_dict, late)).status_code == 201


async def test_no_tokens_file_means_401(tmp_path, tokens, record_dict):
    settings = make_settings(tmp_path, tokens)
    app = create_app(type(settings)(lake_url=settings.lake_url, tokens_file=None))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        assert_error(await post(c, record_dict, tokens.write), 401, "unauthorized")


# ------------------------------------------------------------------------------ limits


async def test_content_type_415(client, tokens, record_dict):
    body = json.dumps(record_dict).encode()
    for ctype in ("text/plain", "application/x-www-form-urlencoded"):
        r = await post(client, body, tokens.write, headers={"content-type": ctype})
        assert_error(r, 415, "unsupported_media_type")
    h = {**auth(tokens.write)}
    r = await client.post("/api/v1/builds", content=body, headers=h)
    assert_error(r, 415, "unsupported_media_type")
    r = await post(
        client, body, tokens.write, headers={"content-type": "application/json; charset=utf-8"}
    )
    assert r.status_code == 201


async def test_body_too_large_413(client, tokens, record_dict, tmp_path):
    record_dict["config"]["user_raw"] = "x" * 300_000
    assert_error(await post(client, record_dict, tokens.write), 413, "payload_too_large")

    async def chunks():  # no Content-Length: the limit holds while streaming
        for _ in range(30):
            yield b" " * 10_000

    h = {"content-type": "application/json", **auth(tokens.write)}
    r = await client.post("/api/v1/builds", content=chunks(), headers=h)
    assert_error(r, 413, "payload_too_large")
    assert lake_keys(tmp_path) == []


@pytest.mark.parametrize(
    ("body", "needle"),
    [(b"{not json", "malformed JSON"), (b"", "empty body"), (b'{"a": 1}}', "malformed JSON")],
)
async def test_malformed_json_400(client, tokens, body, needle):
    r = await post(client, body, tokens.write)
    assert_error(r, 400, "malformed_json")
    assert needle in r.json()["error"]["message"]


async def test_unknown_schema_version_422(client, tokens, record_dict):
    record_dict["schema_version"] = 99
    r = await post(client, record_dict, tokens.write)
    assert_error(r, 422, "unknown_schema_version", "schema_version")


async def test_nesting_too_deep_names_the_path(client, tokens, record_dict):
    deep: dict[str, Any] = {}
    node = deep
    for _ in range(40):
        node["k"] = {}
        node = node["k"]
    record_dict["config"]["user"] = {"extra": deep}
    r = await post(client, record_dict, tokens.write)
    assert_error(r, 422, "too_deep")
    assert r.json()["error"]["path"].startswith("config.user.extra.k.k")


async def test_nesting_beyond_the_parser_limit(client, tokens):
    body = b'{"config": {"user": ' + b"[" * 3000 + b"]" * 3000 + b"}}"
    r = await post(client, body, tokens.write)
    assert_error(r, 422, "too_deep")
    assert r.json()["error"]["path"].startswith("config.user.0.0.0")


async def test_string_and_list_lengths(tmp_path, tokens, record_dict):
    app = create_app(make_settings(tmp_path, tokens, max_string_length=100, max_list_length=10))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        rec = json.loads(json.dumps(record_dict))
        rec["config"]["user"]["build"]["jobs"] = {"post_install": ["ok", "y" * 101]}
        r = await post(c, rec, tokens.write)
        assert_error(r, 422, "string_too_long", "config.user.build.jobs.post_install.1")
        rec = json.loads(json.dumps(record_dict))
        rec["packages"]["pip"]["all"] = [{"name": f"p{i}"} for i in range(11)]
        r = await post(c, rec, tokens.write)
        assert_error(r, 422, "list_too_long", "packages.pip.all")


@pytest.mark.parametrize(
    ("field", "value", "path"),
    [
        (("project", "slug"), "../../etc", "project.slug"),
        (("project", "slug"), "/abs/path", "project.slug"),
        (("project", "slug"), "a\x00b", "project.slug"),
        (("project", "slug"), "..", "project.slug"),
        (("project", "slug"), "Demo", "project.slug"),
        (("version", "slug"), "a..b", "version.slug"),
        (("version", "slug"), ".hidden", "version.slug"),
        (("build", "id"), "../../../tmp/x", "build.id"),
        (("build", "id"), "a/b", "build.id"),
        (("build", "id"), "C:\\x", "build.id"),
        (("build", "id"), "x\x00", "build.id"),
        (("build", "id"), -1, "build.id"),
    ],
)
async def test_invalid_identifiers_422(client, tokens, record_dict, tmp_path, field, value, path):
    record_dict[field[0]][field[1]] = value
    r = await post(client, record_dict, tokens.write)
    assert_error(r, 422, "invalid_record", path)
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert all(p.parent == tmp_path for p in written)  # only the tokens file; nothing stored


async def test_invalid_record_names_field(client, tokens, record_dict):
    record_dict["build"]["start"] = "yesterday"
    assert_error(
        await post(client, record_dict, tokens.write), 422, "invalid_record", "build.start"
    )
    assert_error(await post(client, [record_dict], tokens.write), 422, "invalid_record")


async def test_time_out_of_range_in_utc_is_422(client, tokens, record_dict):
    # A valid ISO time that falls before year 1 once converted to UTC (was a 500).
    record_dict["build"]["start"] = "0001-01-01T00:00:00+01:00"
    r = await post(client, record_dict, tokens.write)
    assert_error(r, 422, "invalid_record", "build.start")
    assert "out of range" in r.json()["error"]["message"]


async def test_opted_out_project_422(tmp_path, tokens, record_dict):
    optout = tmp_path / "optout.txt"
    optout.write_text("# projects that asked to be left out\nsecret-project\n")
    settings = make_settings(tmp_path, tokens)
    settings = type(settings)(**{**settings.__dict__, "exclude_projects_file": optout})
    app = create_app(settings)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        assert (await post(c, record_dict, tokens.write)).status_code == 201
        record_dict["project"]["slug"] = "secret-project"
        r = await post(c, record_dict, tokens.write)
        assert_error(r, 422, "project_opted_out", "project.slug")
        optout.write_text("secret-project\ndemo\n")  # picked up without a restart
        record_dict["project"]["slug"] = "demo"
        record_dict["build"]["id"] = 99
        assert_error(await post(c, record_dict, tokens.write), 422, "project_opted_out")
    assert len(lake_keys(tmp_path)) == 1


# ------------------------------------------------------------------------------ batch


def variant(record: dict[str, Any], i: int) -> dict[str, Any]:
    rec = json.loads(json.dumps(record))
    rec["build"]["id"] = 1000 + i
    rec["build"]["commit"] = f"c{i}"
    return rec


async def test_batch_json_array_per_item_results(client, tokens, record_dict, tmp_path):
    bad = variant(record_dict, 2)
    bad["project"]["slug"] = "../x"
    items = [variant(record_dict, 0), variant(record_dict, 1), bad, variant(record_dict, 0)]
    h = {"content-type": "application/json", **auth(tokens.write)}
    r = await client.post("/api/v1/builds/batch", content=json.dumps(items), headers=h)
    assert r.status_code == 200
    body = r.json()
    assert [x["status"] for x in body["results"]] == ["stored", "stored", "rejected", "duplicate"]
    assert [x["index"] for x in body["results"]] == [0, 1, 2, 3]
    assert body["results"][2]["error"]["path"] == "project.slug"
    assert body["results"][2]["http_status"] == 422
    assert (body["stored"], body["duplicates"], body["rejected"]) == (2, 1, 1)
    assert len(lake_keys(tmp_path)) == 2


async def test_batch_ndjson_with_malformed_line(client, tokens, record_dict):
    lines = [json.dumps(variant(record_dict, i)).encode() for i in range(3)]
    body = lines[0] + b"\n{broken\n\n" + lines[1] + b"\n" + lines[2] + b"\n"
    h = {"content-type": "application/x-ndjson", **auth(tokens.write)}
    r = await client.post("/api/v1/builds/batch", content=body, headers=h)
    assert r.status_code == 200
    results = r.json()["results"]
    assert [x["status"] for x in results] == ["stored", "rejected", "stored", "stored"]
    assert results[1]["error"]["code"] == "malformed_json"
    assert results[1]["http_status"] == 400


async def test_batch_limits(client, tokens, record_dict):
    h = {"content-type": "application/json", **auth(tokens.write)}
    six = [variant(record_dict, i) for i in range(6)]
    r = await client.post("/api/v1/builds/batch", content=json.dumps(six), headers=h)
    assert_error(r, 413, "batch_too_large")
    r = await client.post("/api/v1/builds/batch", content=json.dumps(record_dict), headers=h)
    assert_error(r, 422, "invalid_request")
    r = await client.post("/api/v1/builds/batch", content=b"[1,", headers=h)
    assert_error(r, 400, "malformed_json")
    r = await client.post(
        "/api/v1/builds/batch", content=b"[]", headers={**h, "content-type": "text/csv"}
    )
    assert_error(r, 415, "unsupported_media_type")
    r = await client.post(
        "/api/v1/builds/batch", content=b"[]", headers={"content-type": "application/json"}
    )
    assert_error(r, 401, "unauthorized")


# ------------------------------------------------------------------------------ reading


async def test_get_build(client, tokens, record_dict, tmp_path):
    await post(client, record_dict, tokens.write)
    r = await client.get("/api/v1/builds/42", headers=auth(tokens.read))
    assert r.status_code == 200
    assert r.json() == open_lake(str(tmp_path / "lake")).get("42")
    assert r.json()["config"]["user"]["build"]["os"] == "ubuntu-24.04"  # blob re-hydrated
    r = await client.get("/api/v1/builds/7", headers=auth(tokens.read))
    assert_error(r, 404, "not_found", "build_id")
    r = await client.get("/api/v1/builds/..%2Fetc", headers=auth(tokens.read))
    assert r.status_code in (404, 422)
    r = await client.get("/api/v1/builds/a.b", headers=auth(tokens.read))
    assert_error(r, 422, "invalid_build_id", "build_id")


async def test_unknown_route_and_method_are_json(client):
    assert_error(await client.get("/api/v1/nope"), 404, "not_found")
    assert_error(await client.delete("/api/v1/health"), 405, "method_not_allowed")


async def test_health_metrics_openapi(client, tokens, record_dict):
    r = await client.get("/api/v1/health")
    assert r.status_code == 200 and r.json()["status"] == "ok"
    await post(client, record_dict, tokens.write)
    await post(client, record_dict, tokens.write)
    await post(client, b"{", tokens.write)
    r = await client.get("/metrics")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain; version=0.0.4")
    text = r.text
    assert "buildcensus_records_stored_total 1\n" in text
    assert "buildcensus_records_duplicates_total 1\n" in text
    assert 'buildcensus_records_rejected_total{code="malformed_json"} 1\n' in text
    assert (
        'buildcensus_http_requests_total{method="POST",route="/api/v1/builds",status="201"} 1'
        in text
    )
    assert (
        'buildcensus_http_request_latency_seconds_bucket{route="/api/v1/builds",le="+Inf"} 3'
        in text
    )
    assert 'buildcensus_http_request_latency_seconds_count{route="/api/v1/builds"} 3' in text
    schema = (await client.get("/openapi.json")).json()
    assert {"/api/v1/builds", "/api/v1/builds/batch", "/api/v1/builds/{build_id}"} <= set(
        schema["paths"]
    )
    assert "BuildRecord" in schema["components"]["schemas"]
    assert schema["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"


async def test_state_and_optional_routers(tmp_path, tokens, monkeypatch):
    router = APIRouter()

    @router.get("/api/v1/reports/ping")
    async def ping() -> dict[str, str]:
        return {"pong": "yes"}

    fake = types.ModuleType("buildcensus.service.reports_api")
    fake.router = router  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "buildcensus.service.reports_api", fake)
    settings = make_settings(tmp_path, tokens)
    app = create_app(settings)
    assert app.state.lake_url == str(tmp_path / "lake")
    assert app.state.warehouse_url == str(tmp_path / "warehouse")
    assert (app.state.public, app.state.min_projects) == (False, 10)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        assert_error(await c.get("/api/v1/reports/ping"), 401, "unauthorized")
        r = await c.get("/api/v1/reports/ping", headers=auth(tokens.write))
        assert_error(r, 403, "forbidden")
        r = await c.get("/api/v1/reports/ping", headers=auth(tokens.read))
        assert r.json() == {"pong": "yes"}


def test_tokens_fixture_is_hashed(tokens: Tokens) -> None:
    text = tokens.file.read_text()
    assert tokens.write not in text and tokens.read not in text


async def test_forgotten_project_is_opted_out(client, tokens, record_dict, tmp_path):
    from datetime import UTC, datetime

    from buildcensus.lake import forget_project

    assert (await post(client, record_dict, tokens.write)).status_code == 201
    forget_project(open_lake(str(tmp_path / "lake")), "demo", datetime(2026, 12, 2, tzinfo=UTC))
    record_dict["build"]["id"] = 43
    r = await post(client, record_dict, tokens.write)
    assert_error(r, 422, "project_opted_out", "project.slug")
    assert lake_keys(tmp_path) == []


async def test_batch_same_id_as_int_and_str_is_one_build(client, tokens, record_dict, tmp_path):
    as_str = json.loads(json.dumps(record_dict))
    as_str["build"]["id"] = "42"
    h = {"content-type": "application/json", **auth(tokens.write)}
    r = await client.post(
        "/api/v1/builds/batch", content=json.dumps([record_dict, as_str]), headers=h
    )
    assert [x["status"] for x in r.json()["results"]] == ["stored", "duplicate"]
    assert lake_keys(tmp_path) == [KEY]


async def test_concurrent_same_id_never_overwrites_an_acknowledged_record(
    client, tokens, record_dict, tmp_path
):
    import asyncio

    variants = []
    for i in range(12):
        rec = json.loads(json.dumps(record_dict))
        rec["python"] = f"3.{i}.0"  # same build id, different content
        variants.append(rec)
    responses = await asyncio.gather(*(post(client, v, tokens.write) for v in variants))
    codes = sorted(r.status_code for r in responses)
    assert codes == [201] + [409] * 11
    winner = variants[[r.status_code for r in responses].index(201)]
    assert open_lake(str(tmp_path / "lake")).load(KEY)["python"] == winner["python"]


async def test_large_and_small_records_take_either_path_alike(tokens, record_dict, tmp_path):
    """Small records are ingested on the event loop, large ones on a worker thread: the same
    statuses, bodies, stored records and metrics."""
    app = create_app(make_settings(tmp_path, tokens))  # default limits: large records fit
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        await _either_path(client, tokens, record_dict, tmp_path)


async def _either_path(client, tokens, record_dict, tmp_path):
    from buildcensus.service.ingest import INLINE_MAX_BYTES

    big = json.loads(json.dumps(record_dict))
    big["build"]["id"] = 43
    big["packages"]["pip"]["all"] = [
        {"name": f"package-{i}", "version": f"1.{i}"} for i in range(INLINE_MAX_BYTES // 30)
    ]
    assert len(json.dumps(big)) > INLINE_MAX_BYTES > len(json.dumps(record_dict))
    for rec in (record_dict, big):
        r1 = await post(client, rec, tokens.write)
        r2 = await post(client, rec, tokens.write)
        assert (r1.status_code, r2.status_code) == (201, 200)
        assert r2.json()["key"] == r1.json()["key"]
        assert r1.json()["build_id"] == rec["build"]["id"]
        stored = open_lake(str(tmp_path / "lake")).load(r1.json()["key"])
        assert stored == parse_record(rec).to_json_dict()
        other = json.loads(json.dumps(rec))
        other["python"] = "2.7"
        assert_error(await post(client, other, tokens.write), 409, "conflict", "build.id")
    text = (await client.get("/metrics")).text
    assert "buildcensus_records_stored_total 2\n" in text
    assert "buildcensus_records_duplicates_total 2\n" in text
    assert 'buildcensus_records_rejected_total{code="conflict"} 2\n' in text


async def test_openapi_security_scheme(client):
    """Every route but health and metrics asks for the one bearer scheme."""
    schema = (await client.get("/openapi.json")).json()
    assert schema["components"]["securitySchemes"] == {
        "HTTPBearer": {
            "type": "http",
            "scheme": "bearer",
            "description": "A token from `buildcensus token create`.",
        }
    }
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            if path in ("/api/v1/health", "/metrics"):
                assert "security" not in operation
            else:
                assert operation["security"] == [{"HTTPBearer": []}], (method, path)
