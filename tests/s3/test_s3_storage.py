"""S3Storage against a real SeaweedFS: the Storage contract, conditional PUT, pagination, errors."""

from __future__ import annotations

import concurrent.futures
import contextlib
import urllib.request
from collections.abc import Iterator
from urllib.error import HTTPError

import pytest

from buildcensus.errors import LakeError, NotFoundError, UsageError
from buildcensus.lake import open_storage
from buildcensus.lake.s3 import S3Storage

pytestmark = pytest.mark.s3


@contextlib.contextmanager
def count_calls(storage: S3Storage, operation: str) -> Iterator[list[str]]:
    """Record each `operation` request the storage's (shared) client sends, while inside."""
    calls: list[str] = []

    def hook(**kwargs: object) -> None:
        calls.append(operation)

    event = f"before-call.s3.{operation}"
    storage.client.meta.events.register(event, hook)
    try:
        yield calls
    finally:
        storage.client.meta.events.unregister(event, hook)


def test_open_storage_dispatches_s3(s3_url):
    storage = open_storage(s3_url)
    assert isinstance(storage, S3Storage)
    assert storage.url == s3_url
    assert storage.bucket == s3_url.split("/")[2]


def test_put_get_exists_delete(s3_url, s3_env):
    st = S3Storage(s3_url)
    assert not st.exists("a/b.json")
    st.put("a/b.json", b'{"x": 1}')
    assert st.exists("a/b.json")
    assert st.get("a/b.json") == b'{"x": 1}'
    st.put("a/b.json", b"new")  # put overwrites
    assert st.get("a/b.json") == b"new"
    # The object really lives at prefix/key in the bucket.
    prefix = s3_url.split("/", 3)[3]
    body = s3_env.client().get_object(Bucket=s3_env.bucket, Key=f"{prefix}/a/b.json")["Body"]
    assert body.read() == b"new"
    st.delete("a/b.json")
    assert not st.exists("a/b.json")
    st.delete("a/b.json")  # deleting a missing object is not an error
    assert list(st.list()) == []


def test_missing_object_errors(s3_url):
    st = S3Storage(s3_url)
    with pytest.raises(NotFoundError, match=r"^not in the lake: nope/x\.json$"):
        st.get("nope/x.json")
    st.put("dir/x.json", b"1")
    # A "directory" is not an object.
    with pytest.raises(NotFoundError):
        st.get("dir")
    assert not st.exists("dir")


@pytest.mark.parametrize("bad", ["../x", "a/../b", "/etc/passwd", "a//b", ""])
def test_keys_cannot_escape_the_prefix(s3_url, bad):
    st = S3Storage(s3_url)
    with pytest.raises(LakeError, match="invalid storage key"):
        st.put(bad, b"x")


def test_put_if_absent(s3_url):
    st = S3Storage(s3_url)
    assert st.put_if_absent("m/k", b"first") is True
    assert st.put_if_absent("m/k", b"second") is False
    assert st.get("m/k") == b"first"


def test_put_if_absent_is_atomic_under_concurrency(s3_url):
    """8 writers race for each key; the server's conditional PUT lets exactly one win."""
    st = S3Storage(s3_url)
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        for round_ in range(2):
            key = f"race/{round_}"
            wins = list(pool.map(lambda i, k=key: st.put_if_absent(k, str(i).encode()), range(8)))
            assert wins.count(True) == 1
            assert st.get(key) == str(wins.index(True)).encode()


def test_put_if_absent_fallback_head_then_put(s3_url):
    """The documented fallback for servers without conditional PUT keeps the semantics."""
    st = S3Storage(s3_url, conditional_put=False)
    assert st.put_if_absent("f/k", b"1") is True
    assert st.put_if_absent("f/k", b"2") is False
    assert st.get("f/k") == b"1"


def test_list_paginates(s3_url):
    st = S3Storage(s3_url, page_size=7)
    keys = {f"telemetry/builds/2026/{m:02d}/k{i:02d}.json" for m in (1, 2) for i in range(12)}
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda k: st.put(k, b"x"), keys))
    st.put("telemetry/buildsX/other.json", b"x")  # a sibling with the same string prefix
    with count_calls(st, "ListObjectsV2") as calls:
        assert set(st.list("telemetry/builds")) == keys
    assert len(calls) == 4  # 24 keys in pages of 7
    assert set(st.list("telemetry/builds/2026/02/")) == {k for k in keys if "/02/" in k}
    assert set(st.list()) == keys | {"telemetry/buildsX/other.json"}
    assert list(st.list("telemetry/none")) == []


def test_list_more_than_1000_keys(s3_url):
    """The default page size is S3's maximum (1000): 1100 keys need two ListObjectsV2 calls."""
    st = S3Storage(s3_url)
    keys = {f"many/{i:05d}" for i in range(1100)}
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda k: st.put(k, b""), keys))
    with count_calls(st, "ListObjectsV2") as calls:
        assert set(st.list("many")) == keys
    assert len(calls) == 2


def test_anonymous_write_is_refused(s3_env, s3_url):
    """The fixture's server has credentials set: an unsigned PUT must get 403."""
    bucket, prefix = s3_url[len("s3://") :].split("/", 1)
    req = urllib.request.Request(
        f"{s3_env.endpoint}/{bucket}/{prefix}/anon.json", data=b"{}", method="PUT"
    )
    with pytest.raises(HTTPError) as exc:
        urllib.request.urlopen(req, timeout=10)
    assert exc.value.code == 403
    assert not S3Storage(s3_url).exists("anon.json")


def test_wrong_secret_is_one_line_error(s3_url, monkeypatch):
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wrong-secret")
    with pytest.raises(LakeError, match=r"^S3 refused open s3://.*check the credentials") as exc:
        S3Storage(s3_url)
    assert "\n" not in str(exc.value)


def test_missing_bucket_is_usage_error(s3_env):
    with pytest.raises(UsageError, match=r"S3 bucket 'no-such-bucket-bc' does not exist at http"):
        S3Storage("s3://no-such-bucket-bc/x")


def test_no_credentials_is_usage_error(s3_url, monkeypatch):
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    with pytest.raises(UsageError, match="no S3 credentials"):
        S3Storage(s3_url)


def test_unreachable_endpoint_is_one_line_error(s3_url, monkeypatch, unused_port):
    monkeypatch.setenv("BUILDCENSUS_S3_ENDPOINT", f"http://127.0.0.1:{unused_port}")
    with pytest.raises(LakeError, match=r"^cannot reach S3 at http://127\.0\.0\.1:\d+"):
        S3Storage(s3_url, max_attempts=1)  # the default retries with backoff for ~10 s


@pytest.fixture
def unused_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
