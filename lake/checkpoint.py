"""Reading a streaming query's checkpoint: which Kafka offsets it has committed."""

from __future__ import annotations

import json

from pyspark.sql import SparkSession


def _fs(spark: SparkSession, path: str):
    jvm = spark.sparkContext._jvm
    hadoop_path = jvm.org.apache.hadoop.fs.Path(path)
    return hadoop_path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration()), jvm


def read_text(spark: SparkSession, path: str) -> str | None:
    """A small file's text through the Hadoop FileSystem API, or None when it is missing."""
    fs, jvm = _fs(spark, path)
    hadoop_path = jvm.org.apache.hadoop.fs.Path(path)
    if not fs.exists(hadoop_path):
        return None
    stream = fs.open(hadoop_path)
    try:
        return jvm.org.apache.commons.io.IOUtils.toString(stream, "UTF-8")
    finally:
        stream.close()


def list_names(spark: SparkSession, path: str) -> list[str]:
    """Names in a folder, or [] when it is missing."""
    fs, jvm = _fs(spark, path)
    hadoop_path = jvm.org.apache.hadoop.fs.Path(path)
    if not fs.exists(hadoop_path):
        return []
    return [status.getPath().getName() for status in fs.listStatus(hadoop_path)]


def _offsets_json(text: str) -> dict[str, dict[str, int]]:
    """The Kafka source's offsets: the last JSON line of an offsets/sources log entry."""
    for line in reversed(text.strip().splitlines()):
        if line.startswith("{") and not line.startswith('{"batchWatermarkMs'):
            return {
                t: {p: int(o) for p, o in parts.items()} for t, parts in json.loads(line).items()
            }
    raise ValueError("no offsets in the checkpoint entry")


def committed_offsets(spark: SparkSession, checkpoint: str) -> dict[str, dict[str, int]] | None:
    """End offsets (exclusive) per topic and partition of the last committed batch, or None."""
    commits = [int(n) for n in list_names(spark, f"{checkpoint}/commits") if n.isdigit()]
    if not commits:
        return None
    return _offsets_json(read_text(spark, f"{checkpoint}/offsets/{max(commits)}"))


def initial_offsets(spark: SparkSession, checkpoint: str) -> dict[str, dict[str, int]] | None:
    """Where the query started reading, as its Kafka source recorded on its first run."""
    text = read_text(spark, f"{checkpoint}/sources/0/0")
    return _offsets_json(text) if text else None
