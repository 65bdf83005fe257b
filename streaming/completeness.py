"""Pure transforms of the completeness audit: every consumed offset accounted for."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

OUTCOMES = ["landed", "quarantined", "duplicate", "erased", "missing"]


def account_for_offsets(
    records: DataFrame,
    landed: DataFrame,
    quarantined: DataFrame,
    erased: DataFrame | None = None,
) -> DataFrame:
    """Each consumed Kafka record with its outcome: landed, quarantined, duplicate, erased or
    missing.

    `records`: the topic's records over the consumed offsets (topic, partition, offset, value,
    timestamp); `landed`/`quarantined`/`erased`: lake rows with their Kafka lineage. A record
    whose offset is in none of them but whose event_id landed from another offset is a dropped
    duplicate.
    """
    consumed = records.select(
        F.col("partition").alias("kafka_partition"),
        F.col("offset").alias("kafka_offset"),
        F.col("timestamp").alias("kafka_timestamp"),
        F.get_json_object(F.col("value").cast("string"), "$.event_id").alias("event_id"),
    )
    landed_offsets = landed.select(
        "kafka_partition", "kafka_offset", F.lit(True).alias("is_landed")
    ).distinct()
    quarantined_offsets = quarantined.select(
        "kafka_partition", "kafka_offset", F.lit(True).alias("is_quarantined")
    ).distinct()
    landed_ids = landed.select("event_id", F.lit(True).alias("id_landed")).distinct()
    joined = (
        consumed.join(landed_offsets, ["kafka_partition", "kafka_offset"], "left")
        .join(quarantined_offsets, ["kafka_partition", "kafka_offset"], "left")
        .join(landed_ids, "event_id", "left")
    )
    if erased is not None:
        erased_offsets = erased.select(
            "kafka_partition", "kafka_offset", F.lit(True).alias("is_erased")
        ).distinct()
        joined = joined.join(erased_offsets, ["kafka_partition", "kafka_offset"], "left")
    else:
        joined = joined.withColumn("is_erased", F.lit(False))
    outcome = (
        F.when(F.col("is_landed"), "landed")
        .when(F.col("is_quarantined"), "quarantined")
        .when(F.col("id_landed"), "duplicate")
        .when(F.col("is_erased"), "erased")
        .otherwise("missing")
    )
    return joined.select(
        "kafka_partition", "kafka_offset", "kafka_timestamp", "event_id", outcome.alias("outcome")
    )


def per_partition(outcomes: DataFrame) -> DataFrame:
    """Counts of each outcome per partition, with the consumed offset range."""
    return (
        outcomes.groupBy("kafka_partition")
        .pivot("outcome", OUTCOMES)
        .count()
        .na.fill(0)
        .join(
            outcomes.groupBy("kafka_partition").agg(
                F.count(F.lit(1)).alias("consumed"),
                F.min("kafka_offset").alias("first_offset"),
                F.max("kafka_offset").alias("last_offset"),
            ),
            "kafka_partition",
        )
        .orderBy("kafka_partition")
    )


def per_hour(outcomes: DataFrame) -> DataFrame:
    """Counts of each outcome per hour in which Kafka received the records."""
    hour = F.date_trunc("hour", "kafka_timestamp").alias("hour")
    return outcomes.groupBy(hour).pivot("outcome", OUTCOMES).count().na.fill(0).orderBy("hour")


def repeated_event_ids(landed: DataFrame) -> DataFrame:
    """The event_ids that have more than one row in the lake, with how many (`rows`).

    Counted from the table itself, not from the landing job's own records, so that no bug of
    the dedupe can hide a twice-landed event."""
    return (
        landed.groupBy("event_id")
        .agg(F.count(F.lit(1)).alias("rows"))
        .where(F.col("rows") > 1)
        .orderBy("event_id")
    )


def missing_ranges(outcomes: DataFrame) -> list[tuple[int, int, int]]:
    """(partition, first offset, last offset) of each run of missing offsets."""
    missing = (
        outcomes.where(F.col("outcome") == "missing")
        .select("kafka_partition", "kafka_offset")
        .orderBy("kafka_partition", "kafka_offset")
        .collect()
    )
    ranges: list[tuple[int, int, int]] = []
    for row in missing:
        last = ranges[-1] if ranges else None
        if last and last[0] == row.kafka_partition and last[2] == row.kafka_offset - 1:
            ranges[-1] = (last[0], last[1], row.kafka_offset)
        else:
            ranges.append((row.kafka_partition, row.kafka_offset, row.kafka_offset))
    return ranges
