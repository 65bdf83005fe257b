"""The schemas of the landed tables, built once from the landing transforms themselves.

The `events` table's columns are what `valid_events(parse_records(...))` gives for Kafka
records, `quarantine`'s what `quarantined_records` gives: anything that writes rows shaped
like landed ones (the table's creation, the marts benchmark's synthetic lake, tests) takes
its schema from here rather than listing the columns again.
"""

from __future__ import annotations

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StructType

from streaming.transforms import parse_records, quarantined_records, valid_events


def no_kafka_records(spark: SparkSession) -> DataFrame:
    """No rows, only the schema of Kafka records (and no Python task to make them)."""
    return spark.range(0).select(
        F.lit(None).cast("binary").alias("value"),
        F.lit(None).cast("string").alias("topic"),
        F.lit(None).cast("int").alias("partition"),
        F.lit(None).cast("long").alias("offset"),
        F.lit(None).cast("timestamp").alias("timestamp"),
    )


def landed_events_schema(spark: SparkSession) -> StructType:
    """The columns of the `events` table, in order."""
    return valid_events(parse_records(no_kafka_records(spark))).schema


def quarantine_schema(spark: SparkSession) -> StructType:
    """The columns of the `quarantine` table, in order."""
    return quarantined_records(parse_records(no_kafka_records(spark))).schema
