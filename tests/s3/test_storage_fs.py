"""storage_fs: URL parsing and settings (pure), and Arrow/DuckDB on S3 (real SeaweedFS)."""

from __future__ import annotations

import sys

import duckdb
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import pytest

from buildcensus.errors import UsageError
from buildcensus.storage_fs import (
    fsspec_filesystem,
    is_s3_url,
    parse_s3_url,
    register_duckdb_filesystem,
    s3_settings,
    warehouse_filesystem,
)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("s3://bucket", ("bucket", "")),
        ("s3://bucket/", ("bucket", "")),
        ("s3://bucket/lake", ("bucket", "lake")),
        ("s3://my.bucket-1/a/b/", ("my.bucket-1", "a/b")),
        ("s3a://bucket/warehouse", ("bucket", "warehouse")),
    ],
)
def test_parse_s3_url(url, expected):
    assert parse_s3_url(url) == expected
    assert is_s3_url(url)


@pytest.mark.parametrize(
    "url",
    ["s3://", "s3://UP/x", "s3://ab/x", "s3://b_k/x", "s3://bkt/a/../b", "s3://bkt/a//b",
     "s3://bkt/x?y=1", "gs://bkt/x", "s3://-bkt/x"],
)  # fmt: skip
def test_parse_s3_url_rejects(url):
    with pytest.raises(UsageError):
        parse_s3_url(url)


def test_is_s3_url_local():
    assert not is_s3_url("/data/lake")
    assert not is_s3_url("file:///data/lake")


def _isolated(tmp_path, **env: str) -> dict[str, str]:
    return {
        "AWS_CONFIG_FILE": str(tmp_path / "none"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
        **env,
    }


@pytest.mark.parametrize(
    ("env", "endpoint", "region"),
    [
        ({}, None, "us-east-1"),
        ({"AWS_DEFAULT_REGION": "eu-west-3"}, None, "eu-west-3"),
        ({"AWS_REGION": "eu-north-1", "AWS_DEFAULT_REGION": "eu-west-3"}, None, "eu-north-1"),
        ({"AWS_ENDPOINT_URL": "http://a:1"}, "http://a:1", "us-east-1"),
        ({"AWS_ENDPOINT_URL": "http://a:1", "AWS_ENDPOINT_URL_S3": "http://b:2/"}, "http://b:2",
         "us-east-1"),
        ({"AWS_ENDPOINT_URL_S3": "http://b:2", "BUILDCENSUS_S3_ENDPOINT": "https://c:3"},
         "https://c:3", "us-east-1"),
    ],
)  # fmt: skip
def test_s3_settings_precedence(tmp_path, monkeypatch, env, endpoint, region):
    for key in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(key, raising=False)
    for key, value in _isolated(tmp_path, **env).items():
        monkeypatch.setenv(key, value)
    settings = s3_settings({**env})
    assert (settings.endpoint_url, settings.region) == (endpoint, region)
    assert settings.path_style is (endpoint is not None)


def test_s3_settings_credentials_from_profile(tmp_path, monkeypatch):
    creds = tmp_path / "credentials"
    creds.write_text("[ci]\naws_access_key_id = AKIDCI\naws_secret_access_key = s3cr3t\n")
    config = tmp_path / "config"
    config.write_text("[profile ci]\nregion = ap-south-1\n")
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(creds))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_PROFILE", "ci")
    s = s3_settings()
    assert (s.access_key, s.secret_key, s.region, s.profile) == (
        "AKIDCI",
        "s3cr3t",
        "ap-south-1",
        "ci",
    )


def test_s3_settings_temporary_credentials_are_not_frozen(tmp_path, monkeypatch):
    """Expiring credentials (here from a credential_process) are left to each client's chain."""
    helper = tmp_path / "creds.py"
    helper.write_text(
        "import json\nprint(json.dumps({'Version': 1, 'AccessKeyId': 'ASIATEMP', "
        "'SecretAccessKey': 'x', 'SessionToken': 't', 'Expiration': '2099-01-01T00:00:00Z'}))\n"
    )
    config = tmp_path / "config"
    config.write_text(f"[profile temp]\ncredential_process = {sys.executable} {helper}\n")
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_PROFILE", "temp")
    s = s3_settings()
    assert (s.access_key, s.refreshable, s.static_keys) == ("ASIATEMP", True, False)
    session = s.boto3_session()
    assert session.profile_name == "temp"
    assert session.get_credentials().get_frozen_credentials().access_key == "ASIATEMP"


def test_s3_settings_rejects_bad_endpoint():
    with pytest.raises(UsageError, match="S3 endpoint must be an http"):
        s3_settings({"BUILDCENSUS_S3_ENDPOINT": "127.0.0.1:8333"})


def test_local_filesystems(tmp_path):
    fs, root = warehouse_filesystem(tmp_path / "wh")
    assert isinstance(fs, pafs.LocalFileSystem)
    assert root == str((tmp_path / "wh").resolve())
    assert warehouse_filesystem(f"file://{tmp_path}/wh")[1] == root
    assert fsspec_filesystem(tmp_path / "wh")[1] == root
    con = duckdb.connect()
    assert register_duckdb_filesystem(con, tmp_path / "wh") == root
    assert "s3" not in con.list_filesystems()


def test_s3fs_filesystem_is_one_per_settings():
    """Same settings share one s3fs filesystem; a fresh one per call would be discarded to the
    garbage collector, whose finalizer closes its session on whatever asyncio loop is running
    then (CI once failed on that in an unrelated web test)."""
    from buildcensus.storage_fs import S3Settings

    one = S3Settings("http://127.0.0.1:1", "us-east-1", "key", "secret", None)
    two = S3Settings("http://127.0.0.1:2", "us-east-1", "key", "secret", None)
    first, root = fsspec_filesystem("s3://bkt/wh", one)
    assert root == "bkt/wh"
    assert fsspec_filesystem("s3://bkt/other", one)[0] is first
    assert fsspec_filesystem("s3://bkt/wh", two)[0] is not first


# --------------------------------------------------------------- against SeaweedFS


@pytest.mark.s3
def test_arrow_writes_duckdb_reads(s3_url):
    """A hive-partitioned dataset written by pyarrow.fs is read back by DuckDB via fsspec."""
    fs, root = warehouse_filesystem(s3_url)
    assert isinstance(fs, pafs.S3FileSystem)
    assert root == s3_url[len("s3://") :]
    table = pa.table({"build_id": ["1", "2", "3"], "year": [2026, 2026, 2025], "month": [1, 2, 12]})
    ds.write_dataset(
        table,
        f"{root}/builds",
        filesystem=fs,
        format="parquet",
        partitioning=["year", "month"],
        partitioning_flavor="hive",
        basename_template="part-r1-{i}.parquet",
    )
    pq.write_table(
        pa.table({"set_id": ["a", "b"]}), f"{root}/package_sets/part-r1.parquet", filesystem=fs
    )
    con = duckdb.connect(config={"autoinstall_known_extensions": False})
    base = register_duckdb_filesystem(con, s3_url)
    assert base == s3_url
    rows = con.execute(
        f"SELECT year, month, build_id FROM read_parquet('{base}/builds/**/*.parquet',"
        " hive_partitioning=true) ORDER BY build_id"
    ).fetchall()
    assert rows == [(2026, 1, "1"), (2026, 2, "2"), (2025, 12, "3")]
    n = con.execute(f"SELECT count(*) FROM '{base}/package_sets/*.parquet'").fetchall()
    assert n == [(2,)]


@pytest.mark.s3
def test_duckdb_writes_arrow_reads(s3_url):
    """DuckDB's partitioned COPY onto S3 (through s3fs) is a dataset pyarrow can open."""
    con = duckdb.connect(config={"autoinstall_known_extensions": False})
    base = register_duckdb_filesystem(con, s3_url)
    con.execute(
        f"COPY (SELECT range AS i, 2026 AS year, 1 + range % 3 AS month FROM range(30))"
        f" TO '{base}/builds' (FORMAT parquet, PARTITION_BY (year, month), OVERWRITE_OR_IGNORE)"
    )
    fs, root = warehouse_filesystem(s3_url)
    dataset = ds.dataset(f"{root}/builds", filesystem=fs, format="parquet", partitioning="hive")
    table = dataset.to_table()
    assert table.num_rows == 30
    assert sorted(set(table.column("month").to_pylist())) == [1, 2, 3]
    # Registering again (e.g. another warehouse URL) replaces, not duplicates, the filesystem.
    register_duckdb_filesystem(con, s3_url)
    assert con.list_filesystems().count("s3") == 1
