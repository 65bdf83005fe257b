"""Writes each landing micro-batch to the Delta tables `events` and `quarantine`, idempotently.

A micro-batch can run again after a crash (Spark re-runs a batch whose offsets were logged
but not committed). Both writes are safe to repeat:
- `quarantine` is appended with Delta's `txnAppId`/`txnVersion`: a batch already written is
  skipped by Delta itself;
- `events` gets only the rows whose event_id the key index (`streaming.keys`) lacks, appended
  with the same `txnAppId`/`txnVersion`, and then their keys, likewise: an event is never
  inserted again, whether it comes from this batch's re-run or a client's retry months later,
  whatever its dates;
- events of a player erased since their receipt (`streaming.erased`) are not appended. An
  erasure that commits while the batch is written is looked for again after the append: its
  offsets go to `erasures` (those not there yet) and its rows, if the append wrote them, are
  deleted by offset. Both steps are safe to repeat, and a batch run again after a crash
  finds what its first run appended.
No row leaves a batch except into one of the tables, as a counted duplicate, or as erased.
"""

from __future__ import annotations

import hashlib
import time

from delta.tables import DeltaTable
from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from lake.files import table_properties
from lake.io import read_table, retry_on_conflict, tagged_commit_rows
from streaming.erased import erased_events, erased_frame, read_erased_players, without_erased
from streaming.keys import KeyIndex, ensure_key_index, event_key_hash, keys_of
from streaming.landed import no_kafka_records
from streaming.metrics import LandingMetrics
from streaming.transforms import (
    KAFKA_LINEAGE,
    batch_summary,
    first_copies,
    parse_records,
    quarantine_reasons,
    quarantined_records,
    suspect_event_ids,
    valid_events,
)

# The append is checked against the ids the table held when it started: a concurrent delete
# (erasure) or change of the table's schema makes Delta refuse it, and it is then run again
# (it is idempotent).
_retry_on_conflict = retry_on_conflict(5)


# The columns whose min, max and null count each file's entry in the log keeps, for readers
# to skip files by: time and Kafka position, which a file's rows share a range of. Delta's
# default, the first 32 columns, includes every field of `properties` and `context` and the
# random event_id, which skip nothing and cost the landing write a third of its time.
CHANGE_FEED = "delta.enableChangeDataFeed"
STATS_COLUMNS = "delta.dataSkippingStatsColumns"
EVENTS_STATS_COLUMNS = ["event_ts", "received_at", *KAFKA_LINEAGE]
QUARANTINE_STATS_COLUMNS = [*KAFKA_LINEAGE, "landed_at"]
# The fair scheduler's pool of a batch's jobs: a marts run in the same session (service mode)
# runs in the default pool, and a batch does not wait for it to end.
LANDING_POOL = "landing"


def ensure_tables(
    spark: SparkSession, events_path: str, quarantine_path: str, keys_path: str
) -> None:
    """Create the two tables, empty, and the key index unless they exist (the first run does).

    An existing table keeps its schema: a newer catalog's fields are added by the writes.
    """
    parsed = parse_records(no_kafka_records(spark))
    # The marts' state follows what changed in `events` (`jobs.state`): its change data feed,
    # which costs an append nothing (its files are the changes) and a delete a file of them.
    for path, rows, partition, properties in (
        (
            events_path,
            valid_events(parsed),
            "event_date",
            {STATS_COLUMNS: ",".join(EVENTS_STATS_COLUMNS), CHANGE_FEED: "true"},
        ),
        (
            quarantine_path,
            quarantined_records(parsed),
            "landed_date",
            {STATS_COLUMNS: ",".join(QUARANTINE_STATS_COLUMNS)},
        ),
    ):
        if DeltaTable.isDeltaTable(spark, path):
            continue
        builder = (
            DeltaTable.createIfNotExists(spark)
            .location(path)
            .addColumns(rows.schema)
            .partitionedBy(partition)
        )
        for key, value in properties.items():
            builder = builder.property(key, value)
        builder.execute()
    # An `events` table created before the marts' state existed gets the feed from now on.
    if table_properties(events_path).get(CHANGE_FEED) != "true":
        spark.sql(f"ALTER TABLE delta.`{events_path}` SET TBLPROPERTIES ({CHANGE_FEED} = true)")
    ensure_key_index(spark, keys_path, events_path)


class BatchWriter:
    """The `foreachBatch` function of the landing query; keeps each batch's counts."""

    def __init__(
        self,
        events_path: str,
        quarantine_path: str,
        keys: KeyIndex,
        checkpoint: str,
        metrics: LandingMetrics | None = None,
        *,
        erased_players_path: str,
        erasures_path: str,
    ):
        self.events_path = events_path
        self.quarantine_path = quarantine_path
        self.keys = keys
        self.erased_players_path = erased_players_path
        self.erasures_path = erasures_path
        self.checkpoint = checkpoint
        # Stable across restarts of the same query (its checkpoint), unique between queries.
        self.app_id = "questlog-landing-" + hashlib.sha256(checkpoint.encode()).hexdigest()[:16]
        self.counts: dict[int, dict[str, int]] = {}
        self.metrics = metrics

    def __call__(self, records: DataFrame, batch_id: int) -> None:
        records.sparkSession.sparkContext.setLocalProperty("spark.scheduler.pool", LANDING_POOL)
        parsed = parse_records(records).persist(StorageLevel.MEMORY_AND_DISK)
        try:
            # One job parses the batch (kept for the writes) and counts what the writes need.
            summary = batch_summary(parsed)
            reasons = {}
            if summary.quarantined:
                self.write_quarantine(parsed, batch_id)
                if self.metrics is not None:
                    reasons = quarantine_reasons(parsed)
            landed, erased, received_us = 0, 0, []
            if summary.records > summary.quarantined:
                events = valid_events(parsed)
                # Erasures are read before the append and again after it: one that commits
                # in between is caught by the second read.
                before = read_erased_players(self.erased_players_path)
                kept = without_erased(events, erased_frame(events.sparkSession, before))
                landed, received_us = self.append_new(kept if before else events, batch_id)
                erased, removed = self.erase_belated(events)
                landed -= removed
        finally:
            parsed.unpersist()
        counts = {
            "landed": landed,
            "quarantined": summary.quarantined,
            "erased": erased,
            "duplicates": summary.records - summary.quarantined - landed - erased,
        }
        self.counts[batch_id] = counts
        if self.metrics is not None:
            self.metrics.batch_written(
                read=summary.records,
                landed=landed,
                duplicates=counts["duplicates"],
                reasons=reasons,
                received_us=received_us,
                committed_at=time.time(),
            )

    def write_quarantine(self, parsed: DataFrame, batch_id: int) -> None:
        """Append the batch's invalid records once, however often the batch runs."""
        (
            quarantined_records(parsed)
            .write.format("delta")
            .mode("append")
            .option("txnAppId", self.app_id)
            .option("txnVersion", batch_id)
            .option("userMetadata", f"{self.app_id} batch {batch_id}")
            .save(self.quarantine_path)
        )

    @_retry_on_conflict
    def append_new(self, events: DataFrame, batch_id: int) -> tuple[int, list[int]]:
        """Append the events whose event_id the key index lacks, each once, and only once
        however often the batch runs, then their keys; how many were appended, and every
        record's received_at (Unix microseconds, for the metrics)."""
        spark = events.sparkSession
        # The ids' hashes for the key index, and each record's receipt for the metrics.
        collected = events.select(
            event_key_hash().alias("key_hash"), F.unix_micros("received_at").alias("received_us")
        ).toArrow()
        hashes = collected.column("key_hash").to_pylist()
        landed_ids = self.keys.landed(hashes)
        suspects = None
        if landed_ids is None and len(set(hashes)) == len(hashes):
            # The index holds none of the batch's ids and none comes twice (their hashes
            # differ): every row is new, and no Spark job needs to check it. The usual case.
            new = events
        else:
            if landed_ids is None:
                landed_ids = spark.createDataFrame([], "event_id string")
            suspects = suspect_event_ids(events, landed_ids).persist(StorageLevel.MEMORY_AND_DISK)
            new = first_copies(events, suspects) if suspects.count() else events
        try:
            tag = f"{self.app_id} batch {batch_id}"
            (
                new.write.format("delta")
                .mode("append")
                .option("txnAppId", self.app_id)
                .option("txnVersion", batch_id)
                .option("userMetadata", tag)
                .save(self.events_path)
            )
            # After the events: a crash between the two writes leaves keys missing, never
            # keys of events that are not there; the batch's run again writes them.
            self.keys.append(keys_of(new), self.app_id, batch_id)
        finally:
            if suspects is not None:
                suspects.unpersist()
        # A batch written before a crash is skipped by Delta when it runs again: what it
        # appended is then read from that first run's commit.
        landed = tagged_commit_rows(self.events_path, tag)
        self.keys.remember(hashes, landed)
        return landed, collected.column("received_us").to_pylist()

    @_retry_on_conflict
    def erase_belated(self, events: DataFrame) -> tuple[int, int]:
        """The batch's events that belong to an erasure known now: their offsets are added to
        `erasures` (those it lacks), then any of their rows in `events` deleted (an erasure
        that committed while the batch was appended, or a first run of this batch that
        appended before it). Returns (offsets erased, rows deleted); (0, 0) with no erasure."""
        erased_now = read_erased_players(self.erased_players_path)
        if not erased_now:
            return 0, 0
        spark = events.sparkSession
        lineage = ["kafka_topic", "kafka_partition", "kafka_offset"]
        offsets = erased_events(events, erased_frame(spark, erased_now)).select(*lineage)
        found = offsets.collect()
        if not found:
            return 0, 0
        offsets = spark.createDataFrame(found, offsets.schema)
        if DeltaTable.isDeltaTable(spark, self.erasures_path):
            offsets = offsets.join(read_table(spark, self.erasures_path), lineage, "left_anti")
        (
            offsets.withColumn("erased_at", F.current_timestamp())
            .write.format("delta")
            .mode("append")
            .save(self.erasures_path)
        )
        return len(found), self.delete_offsets(found)

    def delete_offsets(self, found: list) -> int:
        """Delete the rows of `events` at these Kafka offsets (one topic's); how many. The
        offset range per partition lets Delta skip every file but the batch's own."""
        topic = found[0]["kafka_topic"]
        by_partition: dict[int, list[int]] = {}
        for row in found:
            by_partition.setdefault(row["kafka_partition"], []).append(row["kafka_offset"])
        condition = F.lit(False)
        for partition, offsets in by_partition.items():
            condition = condition | (
                (F.col("kafka_partition") == partition)
                & F.col("kafka_offset").between(min(offsets), max(offsets))
                & F.col("kafka_offset").isin(offsets)
            )
        condition = (F.col("kafka_topic") == topic) & condition
        spark = self.keys.spark
        # Mostly none: the rows were dropped before the append.
        landed = read_table(spark, self.events_path).where(condition).count()
        if landed:
            DeltaTable.forPath(spark, self.events_path).delete(condition)
        return landed
