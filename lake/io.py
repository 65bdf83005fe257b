"""Reading the lake and writing marts, through Spark and the Hadoop FileSystem API.

Marts are written as versions: `<mart>/version=<ms>/`, each complete once its `_SUCCESS`
exists. Readers take the newest complete version, so a rerun replaces a mart atomically
and a reader never sees half of one.
"""

from __future__ import annotations

import json
import time
from datetime import date

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.utils import AnalysisException

from lake.checkpoint import read_text

VERSION_PREFIX = "version="
SOURCES_FILE = "_sources.json"
VERSIONS_KEPT = 3


def compacted_root(events_path: str) -> str:
    """Where compacted days live, beside the sink's folder."""
    return events_path.rstrip("/") + "_compacted"


def sink_files(spark: SparkSession, events_path: str) -> list[str]:
    """The files the sink has committed (its `_spark_metadata` log), none half-written."""
    fs, root = _filesystem(spark, events_path)
    if not fs.exists(root):
        return []
    try:
        return list(spark.read.parquet(events_path).inputFiles())
    except AnalysisException:  # the sink exists but has committed no file yet
        return []


def compacted_days(spark: SparkSession, events_path: str) -> dict[str, tuple[str, set[str]]]:
    """Per compacted day: its newest complete version and the sink files it replaces."""
    days = {}
    root = compacted_root(events_path)
    fs, root_path = _filesystem(spark, root)
    if not fs.exists(root_path):
        return days
    for day_status in fs.listStatus(root_path):
        day = day_status.getPath().getName().removeprefix("event_date=")
        versions = mart_versions(spark, f"{root}/event_date={day}", marker=SOURCES_FILE)
        if versions:
            version_path = f"{root}/event_date={day}/{versions[-1]}"
            sources = json.loads(read_text(spark, f"{version_path}/{SOURCES_FILE}"))
            days[day] = (version_path, set(sources))
    return days


def read_events(
    spark: SparkSession, events_path: str, first: date | None = None, last: date | None = None
) -> DataFrame:
    """The landed events, exactly once: the sink's committed files, with compacted days in
    place of the small files they replaced."""
    compacted = compacted_days(spark, events_path)
    replaced = set().union(*(sources for _, sources in compacted.values()))
    files = [f for f in sink_files(spark, events_path) if f not in replaced]
    parts = []
    if files:
        parts.append(spark.read.option("basePath", events_path).parquet(*files))
    for day, (version_path, _) in sorted(compacted.items()):
        rows = spark.read.parquet(version_path).withColumn("event_date", F.lit(day).cast("date"))
        parts.append(rows)
    if not parts:
        raise FileNotFoundError(f"no landed events at {events_path}")
    events = parts[0]
    for part in parts[1:]:
        events = events.unionByName(part)
    if first is not None:
        events = events.where(F.col("event_date") >= F.lit(first))
    if last is not None:
        events = events.where(F.col("event_date") <= F.lit(last))
    return events


QUARANTINE_SCHEMA = (
    "raw_value string, reason string, kafka_topic string, kafka_partition int, "
    "kafka_offset long, kafka_timestamp timestamp, landed_at timestamp, landed_date date"
)


def read_quarantine(spark: SparkSession, quarantine_path: str) -> DataFrame:
    """The quarantined records (through the sink's log), empty when none were ever kept."""
    fs, root = _filesystem(spark, quarantine_path)
    if not fs.exists(root):
        return spark.createDataFrame([], QUARANTINE_SCHEMA)
    return spark.read.schema(QUARANTINE_SCHEMA).parquet(quarantine_path)


def _filesystem(spark: SparkSession, path: str):
    jvm = spark.sparkContext._jvm
    hadoop_path = jvm.org.apache.hadoop.fs.Path(path)
    return hadoop_path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration()), hadoop_path


def mart_versions(spark: SparkSession, mart_path: str, marker: str = "_SUCCESS") -> list[str]:
    """Complete versions (those with `marker`) of a mart, oldest first."""
    fs, root = _filesystem(spark, mart_path)
    if not fs.exists(root):
        return []
    jvm = spark.sparkContext._jvm
    versions = []
    for status in fs.listStatus(root):
        name = status.getPath().getName()
        success = jvm.org.apache.hadoop.fs.Path(status.getPath(), marker)
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


def write_text_atomically(spark: SparkSession, path: str, text: str) -> None:
    """Write a small file under a temporary name, then rename it: readers see all or nothing."""
    fs, _ = _filesystem(spark, path)
    jvm = spark.sparkContext._jvm
    temporary = jvm.org.apache.hadoop.fs.Path(f"{path}._tmp")
    stream = fs.create(temporary, True)
    try:
        stream.write(bytearray(text.encode()))
    finally:
        stream.close()
    if not fs.rename(temporary, jvm.org.apache.hadoop.fs.Path(path)):
        raise OSError(f"could not rename {temporary} to {path}")
