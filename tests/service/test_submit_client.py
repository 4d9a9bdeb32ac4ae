"""The builder-side client: input shapes, retries with backoff, splitting, giving up."""

from __future__ import annotations

import io
import json
from typing import Any

import httpx
import pytest

from buildcensus.errors import SubmitError, UsageError
from buildcensus.submit import (
    ItemResult,
    ParseFailure,
    Submitter,
    backoff_delay,
    read_records,
    service_base,
)


def ok_results(request: httpx.Request) -> httpx.Response:
    items = json.loads(request.content)
    results = [
        {"index": i, "status": "stored", "http_status": 201, "key": f"k/{it['id']}"}
        for i, it in enumerate(items)
    ]
    return httpx.Response(200, json={"results": results})


def make(handler: Any, **kw: Any) -> tuple[Submitter, list[float]]:
    sleeps: list[float] = []
    client = Submitter(
        "http://svc/",
        "tok",
        transport=httpx.MockTransport(handler),
        sleep=sleeps.append,
        rand=lambda: 1.0,
        **kw,
    )
    return client, sleeps


@pytest.mark.parametrize(
    ("data", "labels"),
    [
        (b'{"id": 1}', ["f"]),
        (b'{\n  "id": 1\n}\n', ["f"]),
        (b'[{"id": 1}, {"id": 2}]', ["f[0]", "f[1]"]),
        (b'{"id": 1}\n\n{"id": 2}\n', ["f:1", "f:3"]),
    ],
)
def test_read_records_shapes(data: bytes, labels: list[str]) -> None:
    items = read_records(io.BytesIO(data), "f")
    assert [label for label, _ in items] == labels
    assert all(isinstance(v, dict) for _, v in items)


def test_read_records_malformed() -> None:
    items = read_records(io.BytesIO(b'{"id": 1}\n{broken\n'), "f")
    assert items[0] == ("f:1", {"id": 1})
    assert isinstance(items[1][1], ParseFailure)
    ((label, value),) = read_records(io.BytesIO(b"[1,"), "g")
    assert label == "g" and isinstance(value, ParseFailure)


def test_backoff_is_exponential_capped_and_jittered() -> None:
    assert [backoff_delay(a, 0.5, 4.0, lambda: 1.0) for a in range(5)] == [0.5, 1, 2, 4, 4]
    assert backoff_delay(3, 0.5, 4.0, lambda: 0.25) == 1.0
    assert backoff_delay(3, 0.5, 4.0, lambda: 0.0) == 0.0


def test_service_base() -> None:
    assert service_base("http://h:1/") == "http://h:1"
    assert service_base("http://h:1/api/v1/builds") == "http://h:1"
    assert service_base("http://h:1/api/v1/builds/batch") == "http://h:1"


def test_retries_transport_errors_and_5xx_then_succeeds() -> None:
    calls: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        assert request.headers["authorization"] == "Bearer tok"
        assert request.url.path == "/api/v1/builds/batch"
        if len(calls) == 1:
            raise httpx.ConnectError("refused")
        if len(calls) == 2:
            return httpx.Response(503, headers={"retry-after": "3"})
        return ok_results(request)

    client, sleeps = make(handler, base_delay=0.1)
    results = list(client.submit([("a", {"id": 1}), ("b", {"id": 2})]))
    assert results == [ItemResult("a", "stored", "k/1"), ItemResult("b", "stored", "k/2")]
    assert len(calls) == 3
    assert sleeps == [0.1, 3.0]  # backoff, then at least Retry-After


def test_gives_up_after_max_attempts() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow")

    client, sleeps = make(handler, max_attempts=3, base_delay=1, max_delay=1.5)
    with pytest.raises(SubmitError, match="gave up after 3 attempts: ReadTimeout"):
        list(client.submit([("a", {"id": 1})]))
    assert sleeps == [1, 1.5]


def test_auth_failure_is_a_usage_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(403, json={"error": {"code": "forbidden", "message": "nope"}})

    client, sleeps = make(handler)
    with pytest.raises(UsageError, match="refused the token: nope"):
        list(client.submit([("a", {"id": 1})]))
    assert sleeps == []


def test_too_large_batch_is_split() -> None:
    sizes: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        items = json.loads(request.content)
        sizes.append(len(items))
        if len(items) > 2 or (len(items) == 2 and items[1]["id"] == 4):
            return httpx.Response(413, json={"error": {"code": "batch_too_large", "message": "x"}})
        if items[0]["id"] == 4:  # a single record too big for the server
            return httpx.Response(
                413, json={"error": {"code": "payload_too_large", "message": "too big"}}
            )
        return ok_results(request)

    client, _ = make(handler, batch_size=10)
    results = list(client.submit([(str(i), {"id": i}) for i in range(5)]))
    assert [r.status for r in results] == ["stored"] * 4 + ["rejected"]
    assert results[4].message == "too big"
    assert sizes[0] == 5


def test_rejected_items_and_parse_failures_keep_order() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        res = []
        for item in json.loads(request.content):
            if item["id"] == 1:
                res.append({"status": "duplicate", "http_status": 200, "key": "k/1"})
            else:
                err = {"code": "invalid_record", "message": "bad", "path": "build.id"}
                res.append({"status": "rejected", "http_status": 422, "error": err})
        return httpx.Response(200, json={"results": res})

    client, _ = make(handler)
    items = [("a", {"id": 1}), ("b", ParseFailure("malformed JSON: x")), ("c", {"id": 2})]
    out = list(client.submit(items))
    assert [r.line() for r in out] == [
        "duplicate k/1",
        "rejected b: malformed JSON: x",
        "rejected c: build.id: bad",
    ]


def test_result_count_mismatch_is_an_error() -> None:
    client, _ = make(lambda request: httpx.Response(200, json={"results": []}))
    with pytest.raises(SubmitError, match="0 results for 1 records"):
        list(client.submit([("a", {"id": 1})]))
