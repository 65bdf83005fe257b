"""Reading the lake and writing marts, through Spark and the Hadoop FileSystem API.

Marts are written as versions: `<mart>/version=<ms>/`, each complete once its `_SUCCESS`
exists. Readers take the newest complete version, so a rerun replaces a mart atomically
and a reader never sees half of one.
"""

from __future__ import annotations

import time
from datetime import date

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

VERSION_PREFIX = "version="
VERSIONS_KEPT = 3


def read_events(
    spark: SparkSession, events_path: str, first: date | None = None, last: date | None = None
) -> DataFrame:
    """The landed events, read through the sink's `_spark_metadata` log (exactly once)."""
    events = spark.read.parquet(events_path)
    if first is not None:
        events = events.where(F.col("event_date") >= F.lit(first))
    if last is not None:
        events = events.where(F.col("event_date") <= F.lit(last))
    return events


def _filesystem(spark: SparkSession, path: str):
    jvm = spark.sparkContext._jvm
    hadoop_path = jvm.org.apache.hadoop.fs.Path(path)
    return hadoop_path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration()), hadoop_path


def mart_versions(spark: SparkSession, mart_path: str) -> list[str]:
    """Complete versions of a mart, oldest first."""
    fs, root = _filesystem(spark, mart_path)
    if not fs.exists(root):
        return []
    jvm = spark.sparkContext._jvm
    versions = []
    for status in fs.listStatus(root):
        name = status.getPath().getName()
        success = jvm.org.apache.hadoop.fs.Path(status.getPath(), "_SUCCESS")
        if name.startswith(VERSION_PREFIX) and fs.exists(success):
            versions.append(name)
    return sorted(versions, key=lambda name: int(name.removeprefix(VERSION_PREFIX)))


def latest_mart_path(spark: SparkSession, mart_path: str) -> str | None:
    """The path of the newest complete version of a mart, or None."""
    versions = mart_versions(spark, mart_path)
    return f"{mart_path}/{versions[-1]}" if versions else None


def read_mart(spark: SparkSession, mart_path: str) -> DataFrame:
    """The newest complete version of a mart."""
    latest = latest_mart_path(spark, mart_path)
    if latest is None:
        raise FileNotFoundError(f"no complete version of the mart at {mart_path}")
    return spark.read.parquet(latest)


def write_mart(
    spark: SparkSession, mart: DataFrame, mart_path: str, partition_by: list[str] | None = None
) -> str:
    """Write a new version of a mart, then drop all but the newest few; returns its path."""
    version_path = f"{mart_path}/{VERSION_PREFIX}{time.time_ns() // 1_000_000}"
    writer = mart.write.mode("errorifexists").format("parquet")
    if partition_by:
        writer = writer.partitionBy(*partition_by)
    writer.save(version_path)
    fs, _ = _filesystem(spark, mart_path)
    jvm = spark.sparkContext._jvm
    for old in mart_versions(spark, mart_path)[:-VERSIONS_KEPT]:
        fs.delete(jvm.org.apache.hadoop.fs.Path(f"{mart_path}/{old}"), True)
    return version_path
