"""Pure transforms of the landing job, from Kafka records to lake rows."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
from pyspark.sql import Column, DataFrame, Row
from pyspark.sql import functions as F
from pyspark.sql.types import StringType

from events.records import record_problem
from events.spark_schema import event_schema

# A client_ts further from received_at than this is not believed (a device clock off by
# days); the event is then dated by received_at, the server's clock.
CLIENT_TS_MAX_AGE = "INTERVAL 30 DAYS"
CLIENT_TS_MAX_LEAD = "INTERVAL 1 DAY"

KAFKA_LINEAGE = ["kafka_topic", "kafka_partition", "kafka_offset", "kafka_timestamp"]


def _when_chain(rules: list[tuple[Column, str | Column]]) -> Column:
    """The reason of the first rule that holds, or null."""
    reason = F.lit(None).cast("string")
    for condition, text in reversed(rules):
        reason = F.when(condition, F.lit(text)).otherwise(reason)
    return reason


@F.pandas_udf(StringType())
def _record_problems(values: pd.Series) -> pd.Series:
    """`record_problem` of each Kafka value: the edge's rules, one Python call per record."""
    return values.map(record_problem, na_action=None).astype(object)


def parse_records(records: DataFrame) -> DataFrame:
    """Kafka records -> one row each: the parsed event, its lineage, and a reason if invalid.

    The reason is the edge's (`events.records`); the checks after it hold what the lake's
    columns need whatever the record (a timestamp Spark can read, the keys it dedupes on).
    """
    value = F.col("value").cast("string")
    parsed = records.select(
        value.alias("raw_value"),
        F.from_json(value, event_schema()).alias("event"),
        F.col("topic").alias("kafka_topic"),
        F.col("partition").alias("kafka_partition"),
        F.col("offset").alias("kafka_offset"),
        F.col("timestamp").alias("kafka_timestamp"),
        _record_problems(F.col("value")).alias("problem"),
    ).withColumn("received_ts", F.col("event.received_at").try_cast("timestamp"))
    reason = _when_chain(
        [
            (F.col("problem").isNotNull(), F.col("problem")),
            (F.col("event.event_id").isNull(), "event_id missing"),
            (F.col("event.player_id").isNull(), "player_id missing"),
            (F.col("received_ts").isNull(), "received_at missing or not a timestamp"),
        ]
    )
    return parsed.withColumn("reason", reason).drop("problem")


def event_time(client_ts: Column, received_ts: Column) -> Column:
    """client_ts when plausible (not over 30 days before nor 1 day after received_at)."""
    plausible = (client_ts >= received_ts - F.expr(CLIENT_TS_MAX_AGE)) & (
        client_ts <= received_ts + F.expr(CLIENT_TS_MAX_LEAD)
    )
    return F.when(client_ts.isNotNull() & plausible, client_ts).otherwise(received_ts)


def _client_ts() -> Column:
    return F.col("event.client_ts").try_cast("timestamp")


def valid_events(parsed: DataFrame) -> DataFrame:
    """The lake rows of the valid records, dated by event time, with Kafka lineage."""
    rows = parsed.where(F.col("reason").isNull()).select(
        "event.event_id",
        "event.event_type",
        "event.schema_version",
        "event.player_id",
        "event.session_id",
        _client_ts().alias("client_ts"),
        F.col("received_ts").alias("received_at"),
        event_time(_client_ts(), F.col("received_ts")).alias("event_ts"),
        "event.properties",
        "event.context",
        *KAFKA_LINEAGE,
    )
    return rows.withColumn("event_date", F.to_date("event_ts"))


def batch_summary(parsed: DataFrame) -> Row:
    """In one pass over a parsed batch: `records`, `quarantined`, and the first and last
    `event_date` of its valid events (null when none is valid)."""
    valid = F.col("reason").isNull()
    day = F.to_date(event_time(_client_ts(), F.col("received_ts")))
    return parsed.agg(
        F.count(F.lit(1)).alias("records"),
        F.count("reason").alias("quarantined"),
        F.min(F.when(valid, day)).alias("first_day"),
        F.max(F.when(valid, day)).alias("last_day"),
    ).first()


def quarantined_records(parsed: DataFrame) -> DataFrame:
    """The invalid records, kept whole with their reason and where Kafka had them."""
    return parsed.where(F.col("reason").isNotNull()).select(
        "raw_value",
        "reason",
        *KAFKA_LINEAGE,
        F.current_timestamp().alias("landed_at"),
        F.to_date(F.current_timestamp()).alias("landed_date"),
    )


def drop_duplicate_events(events: DataFrame) -> DataFrame:
    """One row per event_id within a batch; the table's MERGE drops those landed before."""
    return events.dropDuplicates(["event_id"])


def dedupe_window(first_day: date, last_day: date, horizon_days: int) -> tuple[date, date]:
    """The days of the table a batch's events are matched against, by event_id.

    A retry of an event lands on the day of its first copy when it keeps its `client_ts`;
    when a copy was dated by `received_at` instead (no or an implausible `client_ts`), the
    first copy lies up to `horizon_days` earlier, or one day later (the client_ts lead).
    """
    return first_day - timedelta(days=horizon_days), last_day + timedelta(days=1)
