"""FastIngest (`service.fastpath`) answers `POST /api/v1/builds` exactly as the route does.

The same requests go to an app with the fast path and to one without it (`create_app(...,
fast_path=False)`, the reference), each over its own lake: the answers (status, body, headers),
the metrics' counters and the lakes' bytes must be the same. The lake's memo of received
`packages` objects (`Lake.known_part`) must store what the model path (`Lake.store` of
`parse_record`) stores. A request the fast path begins reading and then hands on must reach the
route with its whole body, and a client that goes away mid-body must leave nothing behind.
"""

from __future__ import annotations

import copy
import json
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from fastapi import FastAPI
from starlette.requests import ClientDisconnect

from buildcensus.lake import open_lake
from buildcensus.record import BuildRecord, parse_record
from buildcensus.service import Limits, ServiceSettings, create_app
from buildcensus.service.http_errors import ApiError
from buildcensus.service.ingest import (
    INLINE_MAX_BYTES,
    RAW_PACKAGES,
    Ingestor,
    OptOutList,
    packages_key,
    packages_span,
)
from buildcensus.service.limits import lengths_fit
from buildcensus.service.metrics import Metrics

from .conftest import Tokens, lake_files

pytestmark = pytest.mark.anyio

PATH = "/api/v1/builds"
JSON = "application/json"
OPTED_OUT = "hidden"

# Limits under which realistic records take the size shortcut (`lengths_fit`), and tight
# ones under which the longer bodies of the sequence do not (and the limits are cheap to hit).
DEFAULT = Limits()
TIGHT = Limits(max_body_bytes=200_000, max_string_length=2_000, max_list_length=1_000, max_depth=12)


# ----------------------------------------------------------------------------- helpers


# A valid current-shape record (the `record_dict` fixture's), set by `base` for the helpers.
BASE: dict[str, Any] = {}


@pytest.fixture(autouse=True)
def base(record_dict: dict[str, Any]) -> None:
    BASE.clear()
    BASE.update(record_dict)


def rec(build_id: int | str, **top: Any) -> dict[str, Any]:
    """The base record with another build id and some top-level fields replaced."""
    value = copy.deepcopy(BASE)
    value["build"]["id"] = build_id
    value.update(top)
    return value


def nested(levels: int) -> dict[str, Any]:
    """`levels` objects, one inside the other."""
    value: Any = 1
    for _ in range(levels):
        value = {"a": value}
    return value


def settings(
    tmp_path: Path, name: str, tokens: Tokens, limits: Limits, writer: bool = False
) -> ServiceSettings:
    """The service's settings; `writer`: with its writer process (`lake.writer`), which the
    tests start before the first request (`run`), so the fast path uses it throughout."""
    optout = tmp_path / "optout.txt"
    optout.write_text(f"# projects that opted out\n{OPTED_OUT}\n", encoding="utf-8")
    return ServiceSettings(
        lake_url=str(tmp_path / name),
        warehouse_url=str(tmp_path / f"{name}-warehouse"),
        tokens_file=tokens.file,
        exclude_projects_file=optout,
        limits=limits,
        writer_process=writer,
    )


@dataclass
class FastSpy:
    """What `Ingestor.ingest_fast` returned, call by call (None: handed to the route)."""

    outcomes: list[Any] = field(default_factory=list)

    def install(self, ingestor: Ingestor, monkeypatch: pytest.MonkeyPatch) -> None:
        real = ingestor.ingest_fast

        async def spy(body: bytes) -> Any:
            outcome = await real(body)
            self.outcomes.append(outcome)
            return outcome

        monkeypatch.setattr(ingestor, "ingest_fast", spy)

    def answered(self) -> int:
        return sum(o is not None for o in self.outcomes)


COUNTERS = (
    "buildcensus_http_requests_total{",
    "buildcensus_http_request_latency_seconds_count{",
    "buildcensus_records_",
)


def counter_lines(metrics_text: str) -> list[str]:
    """The counters of `/metrics` (request and record counts; no latency buckets or sums)."""
    return [line for line in metrics_text.splitlines() if line.startswith(COUNTERS)]


# ------------------------------------------------------------------ the request sequence


@dataclass
class Req:
    """One request of the sequence and what it must get (from either app).

    `tried`: its headers let the fast path read the body (if within its byte limit);
    `fast`: the fast path then answers it itself (if the size shortcut, `lengths_fit`,
    applies), else it hands it on to the route.
    """

    label: str
    status: int
    body: bytes | Callable[[], AsyncIterator[bytes]] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    method: str = "POST"
    path: str = PATH
    code: str | None = None  # the error code, for 4xx answers
    err_path: str | None = None
    fast: bool = False
    tried: bool = False


def sequence(tokens: Tokens, limits: Limits) -> list[Req]:
    w = {"authorization": f"Bearer {tokens.write}", "content-type": JSON}

    def post(label: str, value: Any, status: int, **kw: Any) -> Req:
        body = value if isinstance(value, bytes) else json.dumps(value).encode()
        headers = {**w, **kw.pop("headers", {})}
        return Req(label, status, body, {k: v for k, v in headers.items() if v is not None}, **kw)

    def ok(label: str, value: Any, status: int = 201, **kw: Any) -> Req:
        return post(label, value, status, fast=True, tried=True, **kw)

    def bad(label: str, value: Any, status: int, code: str, err_path: str | None = None) -> Req:
        return post(label, value, status, code=code, err_path=err_path, tried=True)

    def chunked(value: Any) -> Callable[[], AsyncIterator[bytes]]:
        data = json.dumps(value).encode()

        async def gen() -> AsyncIterator[bytes]:  # no Content-Length: sent chunked
            for i in range(0, len(data), 500):
                yield data[i : i + 500]

        return gen

    pkgs = copy.deepcopy(BASE["packages"])
    pkgs["pip"]["all"].append({"name": "Sphinx_RTD.Theme", "version": "3.0.2"})
    bad_pkgs = copy.deepcopy(pkgs)
    del bad_pkgs["pip"]["all"][1]["name"]  # a package without a name
    reordered = {  # `pkgs`, keys in another order: another JSON text, the same content
        "apt": pkgs["apt"],
        "pip": {
            k: [dict(reversed(p.items())) for p in v] for k, v in reversed(pkgs["pip"].items())
        },
    }
    user_levels = limits.max_depth - 2  # the record and `config` are the first two levels
    deep_user = rec(47, config={"user": nested(user_levels + 1)})
    over_inline = rec(60, config={"user_raw": "# " + "x" * 300_000})
    long_string = rec(61, config={"user_raw": "y" * (limits.max_string_length + 1)})
    long_list = rec(62, doctool={"extensions": ["e"] * (limits.max_list_length + 1)})
    legacy = {"project": "demo", "version": "latest", "build": 7, "date": "2026-12-01T00:00:00Z"}
    unknown_field = rec(48)
    unknown_field["build"]["runner"] = "x"
    too_big = 413 if len(json.dumps(over_inline)) > limits.max_body_bytes else 201
    return [
        ok("new record", rec(42)),
        ok("the same record again", rec(42), 200),
        ok("same content, another build id", rec(43), 200),
        bad("same build id, other content", rec(42, python="3.13.0"), 409, "conflict", "build.id"),
        post("no token", rec(44), 401, code="unauthorized", headers={"authorization": None}),
        post("unknown token", rec(44), 401, headers={"authorization": "Bearer bct_nope"}),
        post("read-only token", rec(44), 403, code="forbidden", headers=auth(tokens.read)),
        post("basic scheme", rec(44), 401, headers={"authorization": "Basic eDp5"}),
        post("bearer, no token", rec(44), 401, headers={"authorization": "Bearer"}),
        post(
            "text/plain", rec(44), 415, code="unsupported_media_type", headers=ctype("text/plain")
        ),
        post("no content type", rec(44), 415, headers={"content-type": None}),
        ok(
            "json with a charset", rec(44, python="3.11.1"), headers=ctype(f"{JSON}; charset=utf-8")
        ),
        ok("json in capitals", rec(45, python="3.11.2"), headers=ctype("Application/JSON")),
        ok("read+write token", rec(46, python="3.11.3"), headers=auth(tokens.both)),
        ok("string build id", rec("b-46", python="3.11.4")),
        bad("malformed json", b'{"schema_version": 1,', 400, "malformed_json"),
        bad("empty body", b"", 400, "malformed_json"),
        bad("not an object", b"[1, 2]", 422, "invalid_record"),
        bad("unknown field", unknown_field, 422, "invalid_record", "build.runner"),
        ok("config.user at the depth limit", rec(47, config={"user": nested(user_levels)})),
        bad(
            "config.user too deep",
            deep_user,
            422,
            "too_deep",
            ".".join(["config.user"] + ["a"] * user_levels),
        ),
        bad(
            "config.final too deep",
            rec(49, config={"final": nested(user_levels + 1)}),
            422,
            "too_deep",
        ),
        bad(
            "invalid slug", rec(50, project={"slug": "../x"}), 422, "invalid_record", "project.slug"
        ),
        bad(
            "unknown schema version",
            rec(50, schema_version=2),
            422,
            "unknown_schema_version",
            "schema_version",
        ),
        ok("packages P, new", rec(50, packages=pkgs)),
        bad(
            "packages invalid, else as before",
            rec(51, packages=bad_pkgs),
            422,
            "invalid_record",
            "packages.pip.all.1.name",
        ),
        ok("packages P seen before, another build", rec(52, packages=pkgs, python="3.10.0")),
        ok("packages P seen before, same-day duplicate", rec(53, packages=pkgs), 200),
        ok("packages P with keys reordered", rec(54, packages=reordered, python="3.9.1")),
        ok("packages P reordered, seen before", rec(55, packages=reordered, python="3.9.2")),
        bad(
            "opted out",
            rec(56, project={"slug": OPTED_OUT}),
            422,
            "project_opted_out",
            "project.slug",
        ),
        bad(
            "opted out, packages P seen before",
            rec(57, project={"slug": OPTED_OUT}, packages=pkgs),
            422,
            "project_opted_out",
        ),
        bad(
            "packages P, same build id as 52, other content",
            rec(52, packages=pkgs),
            409,
            "conflict",
        ),
        post("legacy shape", legacy, 201, tried=True),
        post("over the inline limit", over_inline, too_big, tried=True),
        bad("string too long", long_string, 422, "string_too_long", "config.user_raw"),
        bad("list too long", long_list, 422, "list_too_long", "doctool.extensions"),
        Req("chunked, no content-length", 201, chunked(rec(63, python="3.8.1")), w),
        Req(
            "chunked, invalid",
            422,
            chunked(rec(64, project={"slug": "../x"})),
            w,
            code="invalid_record",
        ),
        Req(
            "batch",
            200,
            json.dumps([rec(70, python="3.7.1"), rec(42)]).encode(),
            w,
            path=PATH + "/batch",
        ),
        # Batches (the fast path answers small JSON arrays, item by item, as the route does).
        Req("batch of one", 200, orjson.dumps([rec(72)]), w, path=PATH + "/batch"),
        # A batch of one valid record is parsed and validated as a single record is; the
        # others take the batch's usual way.
        Req(
            "batch of one, spaced",
            200,
            b" [ " + orjson.dumps(rec(80, python="3.7.5")) + b" ]\n",
            w,
            path=PATH + "/batch",
        ),
        Req(
            "batch of one, same-day duplicate",
            200,
            orjson.dumps([rec(83)]),
            w,
            path=PATH + "/batch",
        ),
        Req(
            "batch of one, invalid",
            200,
            orjson.dumps([rec(81, project={"slug": "../x"})]),
            w,
            path=PATH + "/batch",
        ),
        Req(
            "batch of one, opted out",
            200,
            orjson.dumps([rec(82, project={"slug": OPTED_OUT})]),
            w,
            path=PATH + "/batch",
        ),
        Req("batch of one, not an object", 200, b"[1]", w, path=PATH + "/batch"),
        Req(
            "batch: stored, invalid, retried, repeated id, same-day duplicate",
            200,
            json.dumps(
                [
                    rec(73, python="3.7.2"),
                    rec(74, project={"slug": "../x"}),
                    rec(72),
                    rec(73, python="3.7.3"),
                    rec(75, python="3.7.2"),
                ]
            ).encode(),
            w,
            path=PATH + "/batch",
        ),
        Req("empty batch", 200, b"[]", w, path=PATH + "/batch"),
        Req("batch not an array", 422, json.dumps(rec(76)).encode(), w, path=PATH + "/batch"),
        Req("batch, malformed", 400, b"[{", w, path=PATH + "/batch", code="malformed_json"),
        Req(
            "batch, NDJSON",
            200,
            json.dumps(rec(77, python="3.7.4")).encode() + b"\n" + json.dumps(rec(78)).encode(),
            {**w, "content-type": "application/x-ndjson"},
            path=PATH + "/batch",
        ),
        Req(
            "batch, read-only token",
            403,
            json.dumps([rec(79)]).encode(),
            auth(tokens.read) | ctype(JSON),
            path=PATH + "/batch",
            code="forbidden",
        ),
        Req("trailing slash", 307, json.dumps(rec(71)).encode(), w, path=PATH + "/"),
        Req("another method", 405, None, w, method="PUT"),
        Req("read back", 200, None, auth(tokens.read), method="GET", path=PATH + "/52"),
        Req("read back a duplicate", 200, None, auth(tokens.read), method="GET", path=PATH + "/53"),
    ]


def auth(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def ctype(value: str) -> dict[str, str]:
    return {"content-type": value}


@dataclass
class Run:
    answers: list[tuple[int, Any, list[tuple[str, str]]]]
    metrics: str
    lake: Path
    fast: FastSpy
    fast_calls: list[int]  # how many times ingest_fast had been called after each request
    written: int = 0  # documents the writer process answered


async def run(app: FastAPI, reqs: list[Req], lake: Path, monkeypatch: pytest.MonkeyPatch) -> Run:
    ingestor = app.state.ingestor
    writer = app.state.settings.writer_process
    if writer:
        assert await ingestor.start_writer(wait=60)
    spy = FastSpy()
    spy.install(ingestor, monkeypatch)
    answers, calls = [], []
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        for r in reqs:
            content = r.body() if callable(r.body) else r.body
            resp = await client.request(r.method, r.path, content=content, headers=r.headers)
            try:
                body = resp.json()
            except ValueError:
                body = resp.content
            answers.append((resp.status_code, body, resp.headers.multi_items()))
            calls.append(len(spy.outcomes))
        metrics = (await client.get("/metrics")).text
    written = 0
    if writer:
        assert ingestor._writer.alive  # it answered every record it was handed
        written = ingestor._writer.answers
        ingestor.close()
    return Run(answers, metrics, lake, spy, calls, written)


async def both(
    tmp_path: Path,
    tokens: Tokens,
    limits: Limits,
    monkeypatch: pytest.MonkeyPatch,
    writer: bool = False,
) -> tuple[list[Req], Run, Run]:
    """The sequence sent to the fast path (`writer`: with the writer process) and to the
    route alone."""
    reqs = sequence(tokens, limits)
    runs = []
    for name, fast in (("fast", True), ("reference", False)):
        app = create_app(settings(tmp_path, name, tokens, limits, writer and fast), fast_path=fast)
        runs.append(await run(app, reqs, tmp_path / name, monkeypatch))
    return reqs, runs[0], runs[1]


# ------------------------------------------------------------------------------- tests


WRITER = pytest.mark.parametrize("writer", [False, True], ids=["inline", "writer-process"])


@WRITER
@pytest.mark.parametrize("limits", [DEFAULT, TIGHT], ids=["default-limits", "tight-limits"])
async def test_same_answers_and_lake_with_and_without_the_fast_path(
    tmp_path, tokens, limits, monkeypatch, writer
):
    reqs, fast, ref = await both(tmp_path, tokens, limits, monkeypatch, writer)
    for i, r in enumerate(reqs):
        status, body, headers = fast.answers[i]
        assert fast.answers[i] == ref.answers[i], r.label
        assert status == r.status, (r.label, body)
        if r.code is not None:
            assert body["error"]["code"] == r.code, (r.label, body)
        if r.err_path is not None:
            assert body["error"]["path"] == r.err_path, (r.label, body)
        if status >= 400 and r.method == "POST":
            assert dict(headers)["content-type"] == JSON, r.label
        # Which requests the fast path read (acceptable headers, a body within its limit),
        # and of those which it answered itself rather than handing them to the route.
        size = len(r.body) if isinstance(r.body, bytes) else 0
        read = r.tried and size <= min(INLINE_MAX_BYTES, limits.max_body_bytes)
        answered = r.fast and lengths_fit(size, limits)
        before = fast.fast_calls[i - 1] if i else 0
        outcomes = fast.fast.outcomes[before : fast.fast_calls[i]]
        assert len(outcomes) == read, r.label
        assert [o is not None for o in outcomes] == ([answered] if read else []), r.label
    assert ref.fast.outcomes == []  # no fast path there
    if limits == DEFAULT:  # every record the route would store or find, the fast path did
        assert fast.fast.answered() == sum(r.fast for r in reqs) >= 12
    if writer:  # and the writer process committed each (and the batches' items)
        assert fast.written >= fast.fast.answered()

    # The same answers for the duplicates that matter: the memo hit and the same-day copy.
    by_label = {r.label: fast.answers[i][1] for i, r in enumerate(reqs)}
    assert (
        by_label["packages P seen before, same-day duplicate"]["duplicate_of"]
        == (by_label["packages P, new"]["key"])
    )
    assert (
        by_label["same content, another build id"]["duplicate_of"]
        == (by_label["new record"]["key"])
    )

    # The two lakes: the same keys, byte-identical files (documents, duplicates, markers,
    # blobs): build ids and contents are the same in both runs.
    fast_keys = list(open_lake(str(fast.lake)).iter_keys())
    assert fast_keys == list(open_lake(str(ref.lake)).iter_keys())
    stored = {
        body["key"]
        for status, body, _ in fast.answers
        if status in (200, 201) and isinstance(body, dict) and "key" in body
    }
    assert stored <= set(fast_keys)
    assert len(fast_keys) >= 14
    fast_tree, ref_tree = lake_files(fast.lake), lake_files(ref.lake)
    assert sorted(fast_tree) == sorted(ref_tree)
    for path, data in fast_tree.items():
        assert data == ref_tree[path], path
    assert not any(OPTED_OUT in path for path in fast_tree)


@WRITER
@pytest.mark.parametrize("limits", [DEFAULT, TIGHT], ids=["default-limits", "tight-limits"])
async def test_same_metric_counters_with_and_without_the_fast_path(
    tmp_path, tokens, limits, monkeypatch, writer
):
    reqs, fast, ref = await both(tmp_path, tokens, limits, monkeypatch, writer)
    lines = counter_lines(fast.metrics)
    assert lines == counter_lines(ref.metrics)
    # Every POST of a record is counted under the route's template (the fast path's answers
    # too), with its status; only the redirect of the trailing slash is "unmatched".
    counts = Counter(r.status for r in reqs if r.method == "POST" and r.path == PATH)
    for status, n in counts.items():
        labels = f'method="POST",route="{PATH}",status="{status}"'
        assert f"buildcensus_http_requests_total{{{labels}}} {n}" in lines
    unmatched = [line for line in lines if 'route="unmatched"' in line]
    assert unmatched == [
        'buildcensus_http_requests_total{method="POST",route="unmatched",status="307"} 1',
        'buildcensus_http_request_latency_seconds_count{route="unmatched"} 1',
    ]
    # The record counters say what the answers said (the route counts no record it refused
    # for want of a token; the batch counts its items).
    posted = [
        a for r, a in zip(reqs, fast.answers, strict=True) if r.path == PATH and r.method == "POST"
    ]
    batches = [
        a[1]
        for r, a in zip(reqs, fast.answers, strict=True)
        if r.path == PATH + "/batch" and a[0] == 200
    ]
    assert len(batches) == 10
    stored = sum(status == 201 for status, _, _ in posted) + sum(b["stored"] for b in batches)
    duplicates = sum(status == 200 for status, _, _ in posted)
    duplicates += sum(b["duplicates"] for b in batches)
    rejected = Counter(
        body["error"]["code"]
        for status, body, _ in posted
        if status >= 400 and status not in (401, 403)
    )
    rejected += Counter(
        item["error"]["code"]
        for b in batches
        for item in b["results"]
        if item["status"] == "rejected"
    )
    assert f"buildcensus_records_stored_total {stored}" in lines
    assert f"buildcensus_records_duplicates_total {duplicates}" in lines
    assert [line for line in lines if "rejected_total{" in line] == [
        f'buildcensus_records_rejected_total{{code="{code}"}} {n}'
        for code, n in sorted(rejected.items())
    ]
    assert {"conflict", "invalid_record", "project_opted_out", "too_deep"} <= set(rejected)
    assert stored >= 12 and duplicates >= 4


# --------------------------------------------------------------------- the packages memo


def packages_variants() -> list[Any]:
    """`packages` objects (and one absent): names to normalize, secrets to redact, given
    `normalized` values, an empty object, and the same content with keys in another order."""
    base = copy.deepcopy(BASE["packages"])
    heavy = {
        "pip": {
            "user": [
                {"name": "Sphinx_RTD.Theme", "specifier": ">=2", "extras": ["Dev_Tools"]},
                {
                    "name": "private-pkg",
                    "url": "https://builder:s3cretpass@pypi.example.com/simple/private-pkg",
                },
            ],
            "top_level": [{"name": "Sphinx_RTD.Theme", "version": "3.0.2"}],
            "all": [
                {"name": "Sphinx_RTD.Theme", "version": "3.0.2"},
                {"name": "Zope.Interface", "version": "7.0"},
                {"name": "Jinja2", "version": "3.1.4", "normalized": "given-by-the-client"},
            ],
        },
        "conda": {
            "user": [{"name": "Python_Dateutil", "pip": True}, {"name": "NumPy_Base"}],
            "all": [
                {"name": "Python_Dateutil", "version": "2.9", "channel": "conda-forge"},
                {"name": "numpy", "channel": "https://user:hunter2pw@conda.example.com/private"},
            ],
        },
        "apt": {
            "user": [{"name": "Libxml2-Dev"}],
            "all": [{"name": "Libxml2-Dev", "version": "2.9"}],
        },
    }
    heavy_reordered = {
        eco: {
            scope: [dict(reversed(p.items())) for p in items]
            for scope, items in reversed(v.items())
        }
        for eco, v in reversed(heavy.items())
    }
    return [base, heavy, heavy_reordered, {}, None, {"pip": {"all": []}}]


def memo_records() -> list[dict[str, Any]]:
    """Records whose packages objects repeat (as JSON text, and in content under other key
    orders), over two days, with same-day duplicates and retries."""
    variants = packages_variants()
    configs = [
        copy.deepcopy(BASE["config"]),
        {
            "user": {"version": 2, "build": {"os": "ubuntu-22.04"}},
            "user_raw": "GH_TOKEN=ghp_" + "a" * 36,
        },
    ]
    records = []
    for i in range(36):
        value = rec(1000 + i, python=f"3.12.{i % 5}", config=copy.deepcopy(configs[i % 2]))
        value["build"]["start"] = f"2026-12-0{1 + i % 2}T10:{i:02d}:00Z"
        packages = variants[i % len(variants)]
        if packages is None:
            del value["packages"]
        else:
            value["packages"] = copy.deepcopy(packages)
        records.append(value)
    records[5]["redactions"] = 2  # redacted by the client already: the lake adds its own
    records[11]["redactions"] = 1
    for i in (0, 7, 13):  # retries: the same build again
        records.append(copy.deepcopy(records[i]))
    for i in (3, 8, 26):  # the same content under another id, same day: duplicates
        again = copy.deepcopy(records[i])
        again["build"]["id"] = 2000 + i
        again["build"]["start"] = records[i]["build"]["start"].replace(":00Z", ":30Z")
        records.append(again)
    return records


# Top-level fields in the order `BuildRecord` serializes them (`packages` before `doctool`).
FIELD_ORDER = list(BuildRecord.model_fields)


def in_model_order(value: dict[str, Any]) -> dict[str, Any]:
    """`value` with its top-level keys in `BuildRecord`'s order (the same record)."""
    return {k: value[k] for k in sorted(value, key=FIELD_ORDER.index)}


# How a client may encode records: with spaces (Python's json), or compactly in the model's
# field order (as `buildcensus submit` and the collector do), where the fast path finds the
# `packages` text without parsing it (`packages_span`).
ENCODINGS: dict[str, Callable[[dict[str, Any]], bytes]] = {
    "json": lambda v: json.dumps(v).encode(),
    "compact": lambda v: orjson.dumps(in_model_order(v)),
}


@pytest.mark.parametrize("encoding", ENCODINGS)
async def test_memo_stores_what_the_model_path_stores(tmp_path, tokens, monkeypatch, encoding):
    encode = ENCODINGS[encoding]
    records = [{**r, "doctool": r.get("doctool", {"name": "sphinx"})} for r in memo_records()]
    spans = []
    monkeypatch.setattr(
        "buildcensus.service.ingest.packages_span",
        lambda body: spans.append(packages_span(body)) or spans[-1],
    )
    app = create_app(settings(tmp_path, "fast", tokens, DEFAULT))
    ingestor = app.state.ingestor
    spy = FastSpy()
    spy.install(ingestor, monkeypatch)
    hits: list[bytes] = []
    known_part = ingestor.lake.known_part

    def counting(key: bytes) -> Any:
        part = known_part(key)
        if part is not None and key.endswith(RAW_PACKAGES):
            hits.append(key)
        return part

    monkeypatch.setattr(ingestor.lake, "known_part", counting)
    answers = []
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        for value in records:
            r = await client.post(
                PATH,
                content=encode(value),
                headers={**auth(tokens.write), "content-type": JSON},
            )
            answers.append((r.status_code, r.json()))
    assert spy.answered() == len(spy.outcomes) == len(records)  # all through the fast path
    # Every packages object sent before as the same JSON text was a memo hit (an absent one
    # is not looked up): 5 distinct objects, 2 of them (`{}`, empty lists) without blobs.
    assert len(hits) == sum(r.get("packages") is not None for r in records) - 5
    assert len(set(hits)) == 5
    with_text = [x for x in spans if x is not None]  # the compact bodies with `packages`
    assert len(with_text) == (0 if encoding == "json" else len(hits) + 5)

    model = open_lake(str(tmp_path / "model"))
    for value, (status, body) in zip(records, answers, strict=True):
        result = model.store(parse_record(copy.deepcopy(value)))
        assert (status, body["key"], body["duplicate_of"]) == (
            201 if result.status == "stored" else 200,
            result.key,
            result.duplicate_of,
        )
    # Stored ones, retries, and same-day duplicates (also across key orders and across `{}`,
    # an absent `packages` and empty lists, which are the same content).
    assert {s for s, _ in answers} == {200, 201}
    assert sum(body["duplicate_of"] is not None for _, body in answers) >= 6
    fast_tree, model_tree = lake_files(tmp_path / "fast"), lake_files(tmp_path / "model")
    fast_tree = {k: v for k, v in fast_tree.items() if k.startswith("telemetry/")}
    assert sorted(fast_tree) == sorted(model_tree)
    for path, data in fast_tree.items():
        assert data == model_tree[path], path
    everything = b"".join(fast_tree.values())
    assert b"s3cretpass" not in everything and b"hunter2pw" not in everything
    assert b"[REDACTED]" in everything
    assert b'"sphinx-rtd-theme"' in everything and b'"given-by-the-client"' in everything
    redacted = [json.loads(v) for k, v in fast_tree.items() if k.startswith("telemetry/builds/")]
    assert any(doc.get("redactions", 0) >= 3 for doc in redacted)


# ------------------------------------------------------------------ fallback, raw ASGI


@dataclass
class Raw:
    """One request driven by hand: what was sent back, receive calls beyond the scripted
    messages, and what the app raised."""

    sent: list[dict[str, Any]]
    extra_receives: int
    raised: BaseException | None

    @property
    def status(self) -> int:
        return self.sent[0]["status"]

    @property
    def body(self) -> Any:
        return json.loads(b"".join(m.get("body", b"") for m in self.sent[1:]))


async def call_raw(
    app: FastAPI, headers: dict[str, str | bytes], messages: list[dict[str, Any]]
) -> Raw:
    pending = list(messages)
    sent: list[dict[str, Any]] = []
    extra = 0

    async def receive() -> dict[str, Any]:
        nonlocal extra
        if pending:
            return pending.pop(0)
        extra += 1
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": PATH,
        "raw_path": PATH.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [
            (k.lower().encode(), v if isinstance(v, bytes) else v.encode())
            for k, v in headers.items()
        ],
        "client": ("127.0.0.1", 40000),
        "server": ("test", 80),
    }
    raised = None
    try:
        await app(scope, receive, send)
    except BaseException as exc:  # noqa: BLE001 - what the server would see
        raised = exc
    return Raw(sent, extra, raised)


def pieces(data: bytes, n: int) -> list[dict[str, Any]]:
    """`data` as n `http.request` messages."""
    step = -(-len(data) // n)
    chunks = [data[i : i + step] for i in range(0, len(data), step)]
    return [
        {"type": "http.request", "body": c, "more_body": i < len(chunks) - 1}
        for i, c in enumerate(chunks)
    ]


def headers_for(tokens: Tokens, data: bytes) -> dict[str, str]:
    return {**auth(tokens.write), "content-type": JSON, "content-length": str(len(data))}


async def test_invalid_record_in_pieces_gets_the_routes_error(tmp_path, tokens, monkeypatch):
    value = rec(42, project={"slug": "../x"})
    data = json.dumps(value).encode()
    apps = {
        name: create_app(settings(tmp_path, name, tokens, DEFAULT), fast_path=fast)
        for name, fast in (("fast", True), ("reference", False))
    }
    spy = FastSpy()
    spy.install(apps["fast"].state.ingestor, monkeypatch)
    raws = {
        name: await call_raw(app, headers_for(tokens, data), pieces(data, 3))
        for name, app in apps.items()
    }
    fast, ref = raws["fast"], raws["reference"]
    assert spy.outcomes == [None]  # read whole, then handed on
    assert fast.raised is None and fast.extra_receives == 0  # the route read the replay only
    assert fast.sent == ref.sent
    assert fast.status == 422
    try:  # the route's own error, with its path: what validating the record says
        apps["fast"].state.ingestor.validate(value)
    except ApiError as exc:
        assert fast.body == {"error": exc.detail()}
    else:
        raise AssertionError("the record should not validate")
    assert fast.body["error"]["path"] == "project.slug"
    metrics = apps["fast"].state.metrics
    assert dict(metrics.rejected) == {"invalid_record": 1}  # counted once, by the route
    assert dict(metrics.requests) == {("POST", PATH, "422"): 1}
    assert list(open_lake(str(tmp_path / "fast")).iter_keys()) == []


async def test_valid_record_in_pieces_is_stored_by_the_fast_path(tmp_path, tokens, monkeypatch):
    data = json.dumps(rec(42)).encode()
    app = create_app(settings(tmp_path, "fast", tokens, DEFAULT))
    spy = FastSpy()
    spy.install(app.state.ingestor, monkeypatch)
    raw = await call_raw(app, headers_for(tokens, data), pieces(data, 7))
    assert raw.raised is None and raw.extra_receives == 0
    assert (raw.status, raw.body["status"]) == (201, "stored")
    assert spy.answered() == 1
    lake = open_lake(str(tmp_path / "fast"))
    assert lake.get("42") == parse_record(rec(42)).to_json_dict()


@pytest.mark.parametrize("first", [0, 1, 2], ids=["no-body", "one-piece", "two-pieces"])
async def test_client_gone_mid_body_stores_nothing(tmp_path, tokens, monkeypatch, first):
    data = json.dumps(rec(42)).encode()
    messages = pieces(data, 3)[:first] + [{"type": "http.disconnect"}]
    raws = {}
    for name, fast in (("fast", True), ("reference", False)):
        app = create_app(settings(tmp_path, name, tokens, DEFAULT), fast_path=fast)
        spy = FastSpy()
        spy.install(app.state.ingestor, monkeypatch)
        raws[name] = await call_raw(app, headers_for(tokens, data), messages)
        assert spy.outcomes == []  # the body never completed: nothing to ingest
        assert app.state.metrics.stored == app.state.metrics.duplicates == 0
        lake = tmp_path / name
        assert list(open_lake(str(lake)).iter_keys()) == []
        assert not (lake / "telemetry").exists()  # no blob, no marker either
    fast, ref = raws["fast"], raws["reference"]
    # The route answers as it always does for a vanished client (Starlette raises
    # ClientDisconnect from the body stream; the server sees it after the 500).
    assert fast.sent == ref.sent
    assert type(fast.raised) is type(ref.raised) is ClientDisconnect
    assert fast.extra_receives == ref.extra_receives == 0


# ------------------------------------------------------------------------ internal errors


async def test_internal_error_is_counted_under_the_route(tmp_path, tokens):
    data = json.dumps(rec(42)).encode()
    results = {}
    for name, fast in (("fast", True), ("reference", False)):
        app = create_app(settings(tmp_path, name, tokens, DEFAULT), fast_path=fast)

        def broken(key: str, data: bytes) -> bool:
            raise OSError("disk on fire")

        app.state.ingestor.lake.storage.put_if_absent = broken
        raw = await call_raw(app, headers_for(tokens, data), pieces(data, 1))
        results[name] = (raw.sent, dict(app.state.metrics.requests))
    fast, ref = results["fast"], results["reference"]
    assert fast[0] == ref[0]  # the same 500 body and headers
    assert fast[0][0]["status"] == 500
    assert fast[1] == ref[1] == {("POST", PATH, "500"): 1}


# ------------------------------------------------------------------ finding `packages` text


def parse_fast_cases() -> list[bytes]:
    """Bodies where the `packages` text is there to find, and bodies made to mislead it."""
    value = in_model_order({**rec(7), "doctool": {"name": "sphinx", "theme": "furo"}})
    good = orjson.dumps(value)
    pk = orjson.dumps(value["packages"])
    user = {"packages": value["packages"], "doctool": 1}
    return [
        good,
        json.dumps(value).encode(),  # spaces: not found, parsed as a whole
        orjson.dumps({**value, "packages": {}}),
        orjson.dumps({k: v for k, v in value.items() if k != "packages"}),
        orjson.dumps({k: v for k, v in value.items() if k != "doctool"}),
        # a `packages` key inside config.user as well: two of them
        orjson.dumps({**value, "config": {"user": user}}),
        # the record's key spelled with an escape, a real-looking one nested: must not be taken
        orjson.dumps({**value, "config": {"user": user}}).replace(
            b'"packages":{"pip"', b'"\\u0070ackages":{"pip"', 1
        ),
        # a later `},"doctool":` (in an object after `doctool`): the guessed text is too long
        orjson.dumps({**value, "collector": {"x": {}, "doctool": 1}}),
        good.replace(b'"packages":{', b'"packages":[{', 1),  # broken JSON
        good[:-1],  # truncated
        good.replace(pk, pk[:-1] + b',"x":1}', 1),  # another packages object
        good.replace(b'"packages":', b'"packages":0,"p":', 1),  # packages not an object
    ]


@pytest.mark.parametrize("index", range(12))
def test_parse_fast_parses_what_orjson_parses(tmp_path, index):
    """Whatever the body, `_parse_fast` gives what `orjson.loads` gives (or raises as it
    does), except that a remembered `packages` text is left as a placeholder."""
    cases = parse_fast_cases()
    assert len(cases) == 12
    body = cases[index]
    ingestor = Ingestor(open_lake(str(tmp_path / "lake")), Limits(), OptOutList(None), Metrics())
    try:
        expected = orjson.loads(body)
    except orjson.JSONDecodeError:
        with pytest.raises(orjson.JSONDecodeError):
            ingestor._parse_fast(body)
        return
    value, memo = ingestor._parse_fast(body)
    assert value == expected
    packages = expected.get("packages") if isinstance(expected, dict) else None
    assert (memo is None) == (not isinstance(packages, dict))
    if memo is None:
        return
    key, known = memo
    assert known is None
    span = packages_span(body)
    text = body[span[0] : span[1]] if span else None
    if text is not None and key != packages_key(text):
        text = None  # a span that did not check out: the whole body was parsed
    # Found where a compact body has one `packages` object followed by `doctool`.
    assert (text is not None) == (index in (0, 2, 10))
    assert key in (packages_key(orjson.dumps(packages)), packages_key(text or b""))
    # Remembered (a valid record's): the same body again is not parsed there, all else is.
    try:
        doc, _ = ingestor._validated(copy.deepcopy(expected), len(body), remember=False)
    except ApiError:
        return
    ingestor.lake.document_part("packages", doc["packages"], key)
    value, memo = ingestor._parse_fast(body)
    assert memo is not None and memo[1] is not None
    if text is not None:
        assert value == {**expected, "packages": 0}
    else:
        assert value == expected


async def test_small_batches_are_answered_by_the_fast_path(tmp_path, tokens, monkeypatch):
    """A JSON array within the inline size is stored on the event loop by the fast path (a
    batch of one is what `buildcensus submit` sends for a build); NDJSON and batch-level
    errors go to the route."""
    app = create_app(settings(tmp_path, "fast", tokens, DEFAULT))
    ingestor = app.state.ingestor
    answered: list[bool] = []
    real = ingestor.ingest_batch_fast

    async def spy(body: bytes) -> Any:
        outcomes = await real(body)
        answered.append(outcomes is not None)
        return outcomes

    monkeypatch.setattr(ingestor, "ingest_batch_fast", spy)
    one_item: list[bool] = []  # a batch of one, validated as a single record
    real_one = ingestor._one_valid_item

    def spy_one(body: bytes) -> Any:
        valid = real_one(body)
        one_item.append(valid is not None)
        return valid

    monkeypatch.setattr(ingestor, "_one_valid_item", spy_one)
    headers = {**auth(tokens.write), "content-type": JSON}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        one = await client.post(PATH + "/batch", content=orjson.dumps([rec(1)]), headers=headers)
        again = await client.post(PATH + "/batch", content=orjson.dumps([rec(1)]), headers=headers)
        bad = await client.post(PATH + "/batch", content=b"{}", headers=headers)
        ndjson = await client.post(
            PATH + "/batch",
            content=orjson.dumps(rec(2, python="3.9.9")),
            headers={**headers, "content-type": "application/x-ndjson"},
        )
    assert (one.status_code, one.json()["stored"]) == (200, 1)
    assert (again.status_code, again.json()["duplicates"]) == (200, 1)
    assert (bad.status_code, bad.json()["error"]["code"]) == (422, "invalid_request")
    assert (ndjson.status_code, ndjson.json()["stored"]) == (200, 1)
    assert answered == [True, True, False]  # NDJSON never reaches it
    assert one_item == [True, True, False]
    assert len(list(ingestor.lake.iter_keys())) == 2


@pytest.mark.parametrize("fast", [True, False])
async def test_content_length_that_is_not_ascii_digits_is_400(tmp_path, tokens, fast):
    """'²' is a digit to `str.isdigit` but not to `int`: a 400, not a 500, on both paths."""
    app = create_app(settings(tmp_path, "lake", tokens, DEFAULT), fast_path=fast)
    data = json.dumps(rec(90)).encode()
    headers = {**auth(tokens.write), "content-type": JSON, "content-length": "²".encode("latin-1")}
    raw = await call_raw(app, headers, [{"type": "http.request", "body": data}])
    assert (raw.status, raw.body["error"]["code"]) == (400, "bad_request")
