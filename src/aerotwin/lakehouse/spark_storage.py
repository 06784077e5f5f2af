"""The lakehouse's object store as Spark sees it: deltalake's S3 options as Hadoop S3A settings.

Both engines must reach the same tables with the same credentials, given once in
`lakehouse.storage_options` (or the `AWS_*` environment, which deltalake reads too). Spark
reaches S3 through Hadoop's S3A filesystem: the same options become its `fs.s3a.*` settings.
Other stores (Azure, GCS) and options only deltalake knows (locking, conditional put) are
left to the cluster's own configuration.

Whether the session brings S3A itself (hadoop-aws, and `s3://` read with it) depends on
where Spark comes from: a `local[*]` session or a standalone cluster (`spark://`) runs
pyspark's own distribution, which has no filesystem for `s3://`; YARN (EMR), Kubernetes
images and Databricks usually bring theirs (EMRFS, or hadoop-aws of their Hadoop).
"""

from __future__ import annotations

from collections.abc import Mapping

S3_SCHEMES = frozenset({"s3", "s3a"})
S3A_FILESYSTEM = "org.apache.hadoop.fs.s3a.S3AFileSystem"
TEMPORARY_CREDENTIALS = "org.apache.hadoop.fs.s3a.TemporaryAWSCredentialsProvider"
ANONYMOUS_CREDENTIALS = "org.apache.hadoop.fs.s3a.AnonymousAWSCredentialsProvider"

# deltalake's option (lower case, without its optional `aws_` prefix) -> S3A's setting.
_DIRECT = {
    "access_key_id": "fs.s3a.access.key",
    "secret_access_key": "fs.s3a.secret.key",
    "session_token": "fs.s3a.session.token",
    "token": "fs.s3a.session.token",
    "region": "fs.s3a.endpoint.region",
    "default_region": "fs.s3a.endpoint.region",
    "endpoint": "fs.s3a.endpoint",
    "endpoint_url": "fs.s3a.endpoint",
}


def scheme(root: str) -> str | None:
    """The URI scheme of a lakehouse root (`s3` of `s3://bucket/prefix`); None for a folder."""
    head, sep, _ = root.partition("://")
    return head.lower() if sep and head.lower() != "file" else None


def ships_s3a(master: str, setting: bool | None = None) -> bool:
    """Whether a session on `master` loads the project's S3A jars and reads `s3://` with them.

    `setting` (`pipeline.spark_s3a`) decides when given; otherwise local and standalone
    (`spark://`) masters do, others keep the cluster's own.
    """
    if setting is not None:
        return setting
    return master.startswith(("local", "spark://"))


def _normalized(options: Mapping[str, str]) -> dict[str, str]:
    """Options as deltalake reads them: keys in any case, with or without `aws_`."""
    return {k.lower().removeprefix("aws_"): str(v) for k, v in options.items()}


def _true(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes"}


def hadoop_options(
    root: str,
    storage_options: Mapping[str, str] | None,
    environ: Mapping[str, str],
    *,
    own_s3a: bool,
) -> dict[str, str]:
    """The Hadoop settings a Spark session needs to reach the tables under `root`.

    `environ`: the process environment (deltalake reads `AWS_*` from it; options win).
    `own_s3a`: the session brings S3A (`ships_s3a`) and reads `s3://` with it too;
    otherwise `s3://` stays the cluster's (EMRFS, Databricks).
    """
    if scheme(root) not in S3_SCHEMES:
        return {}
    given = _normalized({k: v for k, v in environ.items() if k.upper().startswith("AWS_")})
    given.update(_normalized(storage_options or {}))
    settings = {_DIRECT[k]: v for k, v in given.items() if k in _DIRECT and v}
    if "fs.s3a.session.token" in settings:
        settings["fs.s3a.aws.credentials.provider"] = TEMPORARY_CREDENTIALS
    if _true(given.get("skip_signature")):
        settings["fs.s3a.aws.credentials.provider"] = ANONYMOUS_CREDENTIALS
    # deltalake addresses buckets by path unless told otherwise; S3A by host name.
    virtual = _true(given.get("virtual_hosted_style_request"))
    settings["fs.s3a.path.style.access"] = "false" if virtual else "true"
    if _true(given.get("allow_http")):
        settings["fs.s3a.connection.ssl.enabled"] = "false"
    if own_s3a:
        settings["fs.s3.impl"] = S3A_FILESYSTEM
        settings["fs.AbstractFileSystem.s3.impl"] = "org.apache.hadoop.fs.s3a.S3A"
    return settings
