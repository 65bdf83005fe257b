"""Reading a streaming query's checkpoint: which Kafka offsets it has committed."""

from __future__ import annotations

from pyspark.sql import SparkSession

from lake.offsets import Offsets, committed_offsets_with, parse_offsets


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


def committed_offsets(spark: SparkSession, checkpoint: str) -> Offsets | None:
    """End offsets (exclusive) per topic and partition of the last committed batch, or None."""
    return committed_offsets_with(
        lambda path: list_names(spark, path), lambda path: read_text(spark, path), checkpoint
    )


def initial_offsets(spark: SparkSession, checkpoint: str) -> Offsets | None:
    """Where the query started reading, as its Kafka source recorded on its first run."""
    text = read_text(spark, f"{checkpoint}/sources/0/0")
    return parse_offsets(text) if text else None
