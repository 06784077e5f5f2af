"""deltalake's S3 options as the Hadoop S3A settings a Spark session needs."""

from __future__ import annotations

from aerotwin.lakehouse.spark_storage import (
    ANONYMOUS_CREDENTIALS,
    S3A_FILESYSTEM,
    TEMPORARY_CREDENTIALS,
    hadoop_options,
    scheme,
    ships_s3a,
)


def test_a_folder_or_another_store_needs_no_setting() -> None:
    assert scheme("data/lakehouse") is None and scheme("file:///tmp/lake") is None
    assert scheme("S3://bucket/p") == "s3"
    options = {"AWS_ACCESS_KEY_ID": "k"}
    assert hadoop_options("data/lakehouse", options, {}, own_s3a=True) == {}
    assert hadoop_options("abfss://c@acct.dfs.core.windows.net/p", options, {}, own_s3a=True) == {}


def test_the_options_deltalake_takes_become_s3a_settings() -> None:
    options = {
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9000",
        "AWS_ACCESS_KEY_ID": "key",
        "aws_secret_access_key": "secret",  # deltalake takes any case
        "region": "eu-west-1",  # and the short names
        "AWS_ALLOW_HTTP": "true",
        "AWS_S3_ALLOW_UNSAFE_RENAME": "true",  # deltalake's alone: not Spark's business
    }
    assert hadoop_options("s3://fleet-lake/prod", options, {}, own_s3a=True) == {
        "fs.s3a.endpoint": "http://127.0.0.1:9000",
        "fs.s3a.access.key": "key",
        "fs.s3a.secret.key": "secret",
        "fs.s3a.endpoint.region": "eu-west-1",
        "fs.s3a.connection.ssl.enabled": "false",
        "fs.s3a.path.style.access": "true",
        "fs.s3.impl": S3A_FILESYSTEM,
        "fs.AbstractFileSystem.s3.impl": "org.apache.hadoop.fs.s3a.S3A",
    }


def test_the_environment_is_read_as_deltalake_reads_it_and_options_win() -> None:
    environ = {
        "AWS_REGION": "us-east-2",
        "AWS_ACCESS_KEY_ID": "from-env",
        "AWS_SESSION_TOKEN": "token",
        "HOME": "/root",
    }
    got = hadoop_options("s3a://b/p", {"AWS_ACCESS_KEY_ID": "given"}, environ, own_s3a=True)
    assert got["fs.s3a.endpoint.region"] == "us-east-2"
    assert got["fs.s3a.access.key"] == "given"
    assert got["fs.s3a.session.token"] == "token"
    assert got["fs.s3a.aws.credentials.provider"] == TEMPORARY_CREDENTIALS
    assert not any("root" in v for v in got.values())


def test_a_cluster_keeps_its_own_s3_filesystem_and_hosted_style_is_kept() -> None:
    options = {"AWS_VIRTUAL_HOSTED_STYLE_REQUEST": "true", "AWS_SKIP_SIGNATURE": "true"}
    got = hadoop_options("s3://b/p", options, {}, own_s3a=False)
    assert "fs.s3.impl" not in got
    assert got["fs.s3a.path.style.access"] == "false"
    assert got["fs.s3a.aws.credentials.provider"] == ANONYMOUS_CREDENTIALS


def test_local_and_standalone_masters_bring_s3a_unless_told_otherwise() -> None:
    assert ships_s3a("local[*]") and ships_s3a("local[2]")
    assert ships_s3a("spark://10.0.0.5:7077")  # pyspark's own Spark, no s3:// of its own
    assert not ships_s3a("yarn") and not ships_s3a("k8s://https://10.0.0.1:6443")
    assert ships_s3a("yarn", True) and not ships_s3a("local[*]", False)
