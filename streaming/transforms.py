"""Pure transforms of the landing job, from Kafka records to lake rows."""

from __future__ import annotations

import pandas as pd
from pyspark.sql import Column, DataFrame, Row, Window
from pyspark.sql import functions as F
from pyspark.sql.types import StringType

from events.records import record_problem
from events.spark_schema import event_schema

# A client_ts further from received_at than this is not believed (a device clock off by
# days); the event is then dated by received_at, the server's clock.
CLIENT_TS_MAX_AGE = "INTERVAL 30 DAYS"
CLIENT_TS_MAX_LEAD = "INTERVAL 1 DAY"

KAFKA_LINEAGE = ["kafka_topic", "kafka_partition", "kafka_offset", "kafka_timestamp"]
# The columns of the `events` table, in order.
EVENT_COLUMNS = [
    "event_id",
    "event_type",
    "schema_version",
    "player_id",
    "session_id",
    "client_ts",
    "received_at",
    "event_ts",
    "properties",
    "context",
    *KAFKA_LINEAGE,
    "event_date",
]


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
    """Kafka records -> one flat row each: the raw value, a reason if invalid, the event's
    lake columns (dated by event time) and its Kafka lineage.

    The reason is the edge's (`events.records`); the checks after it hold what the lake's
    columns need whatever the record (a timestamp Spark can read, the keys it dedupes on).
    The rows are flat so that a batch kept in memory is read column by column: the checks
    read `event_id` and `event_date` alone, not the whole parsed event.
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
    client_ts = F.col("event.client_ts").try_cast("timestamp")
    event_ts = event_time(client_ts, F.col("received_ts"))
    return parsed.withColumn("reason", reason).select(
        # Kept for the quarantine only: a valid record's value is its columns.
        F.when(F.col("reason").isNotNull(), F.col("raw_value")).alias("raw_value"),
        "reason",
        "event.event_id",
        "event.event_type",
        "event.schema_version",
        "event.player_id",
        "event.session_id",
        client_ts.alias("client_ts"),
        F.col("received_ts").alias("received_at"),
        event_ts.alias("event_ts"),
        "event.properties",
        "event.context",
        *KAFKA_LINEAGE,
        F.to_date(event_ts).alias("event_date"),
    )


def event_time(client_ts: Column, received_ts: Column) -> Column:
    """client_ts when plausible (not over 30 days before nor 1 day after received_at)."""
    plausible = (client_ts >= received_ts - F.expr(CLIENT_TS_MAX_AGE)) & (
        client_ts <= received_ts + F.expr(CLIENT_TS_MAX_LEAD)
    )
    return F.when(client_ts.isNotNull() & plausible, client_ts).otherwise(received_ts)


def valid_events(parsed: DataFrame) -> DataFrame:
    """The lake rows of the valid records, dated by event time, with Kafka lineage."""
    return parsed.where(F.col("reason").isNull()).select(*EVENT_COLUMNS)


def batch_summary(parsed: DataFrame) -> Row:
    """In one pass over a parsed batch: `records` and `quarantined`."""
    return parsed.agg(
        F.count(F.lit(1)).alias("records"),
        F.count("reason").alias("quarantined"),
    ).first()


def quarantine_reasons(parsed: DataFrame) -> dict[str, int]:
    """How many of a parsed batch's records each reason quarantines."""
    rows = parsed.where(F.col("reason").isNotNull()).groupBy("reason").count().collect()
    return {row["reason"]: row["count"] for row in rows}


def quarantined_records(parsed: DataFrame) -> DataFrame:
    """The invalid records, kept whole with their reason and where Kafka had them."""
    return parsed.where(F.col("reason").isNotNull()).select(
        "raw_value",
        "reason",
        *KAFKA_LINEAGE,
        F.current_timestamp().alias("landed_at"),
        F.to_date(F.current_timestamp()).alias("landed_date"),
    )


def suspect_event_ids(events: DataFrame, landed_ids: DataFrame) -> DataFrame:
    """The batch's event_ids that it holds more than once or that are among `landed_ids`
    (those of its ids the key index holds), with `landed` true for the latter.

    Only ids are grouped, in one shuffle, and few come out: the rows themselves never move.
    """
    return (
        events.select("event_id", F.lit(False).alias("landed"))
        .unionByName(landed_ids.select("event_id", F.lit(True).alias("landed")))
        .groupBy("event_id")
        .agg(F.count(F.lit(1)).alias("copies"), F.max("landed").alias("landed"))
        .where(F.col("copies") > 1)
        .select("event_id", "landed")
    )


def first_copies(events: DataFrame, suspects: DataFrame) -> DataFrame:
    """The events to land: none landed before, and of an id the batch holds more than once
    only its first copy by Kafka position. `suspects` is `suspect_event_ids` (small)."""
    flagged = events.join(F.broadcast(suspects), "event_id", "left")
    clean = flagged.where(F.col("landed").isNull())
    first = Window.partitionBy("event_id").orderBy("kafka_partition", "kafka_offset")
    repeated = (
        flagged.where(~F.col("landed"))
        .withColumn("copy", F.row_number().over(first))
        .where(F.col("copy") == 1)
    )
    return clean.select(*events.columns).unionByName(repeated.select(*events.columns))
