"""Writes each landing micro-batch to the Delta tables `events` and `quarantine`, idempotently.

A micro-batch can run again after a crash (Spark re-runs a batch whose offsets were logged
but not committed). Both writes are safe to repeat:
- `quarantine` is appended with Delta's `txnAppId`/`txnVersion`: a batch already written is
  skipped by Delta itself;
- `events` is an insert-only MERGE on `event_id`: a row whose event_id is in the table is
  never inserted again, whether it comes from this batch's re-run or a client's retry days
  later (within `dedupe_horizon_days` of event dates).
No row leaves a batch except into one of the two tables or as a counted duplicate.
"""

from __future__ import annotations

import hashlib

from delta.exceptions import (
    ConcurrentAppendException,
    ConcurrentDeleteReadException,
    DeltaConcurrentModificationException,
)
from delta.tables import DeltaTable
from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from tenacity import retry, retry_if_exception_type, stop_after_attempt, wait_exponential

from streaming.landed import no_kafka_records
from streaming.transforms import (
    batch_summary,
    dedupe_window,
    drop_duplicate_events,
    parse_records,
    quarantined_records,
    valid_events,
)

# An OPTIMIZE or an erasure that rewrote files the MERGE read makes the MERGE's commit
# conflict; the MERGE is then run again (it is idempotent).
_retry_on_conflict = retry(
    retry=retry_if_exception_type(
        (
            ConcurrentAppendException,
            ConcurrentDeleteReadException,
            DeltaConcurrentModificationException,
        )
    ),
    stop=stop_after_attempt(5),
    wait=wait_exponential(multiplier=0.5, max=8),
    reraise=True,
)


def ensure_tables(spark: SparkSession, events_path: str, quarantine_path: str) -> None:
    """Create the two tables, empty, unless they exist (the first run does).

    An existing table keeps its schema: a newer catalog's fields are added by the writes.
    """
    parsed = parse_records(no_kafka_records(spark))
    for path, rows, partition in (
        (events_path, valid_events(parsed), "event_date"),
        (quarantine_path, quarantined_records(parsed), "landed_date"),
    ):
        if DeltaTable.isDeltaTable(spark, path):
            continue
        (
            DeltaTable.createIfNotExists(spark)
            .location(path)
            .addColumns(rows.schema)
            .partitionedBy(partition)
            .execute()
        )


class BatchWriter:
    """The `foreachBatch` function of the landing query; keeps each batch's counts."""

    def __init__(self, events_path: str, quarantine_path: str, checkpoint: str, horizon_days: int):
        self.events_path = events_path
        self.quarantine_path = quarantine_path
        self.checkpoint = checkpoint
        # Stable across restarts of the same query (its checkpoint), unique between queries.
        self.app_id = "questlog-landing-" + hashlib.sha256(checkpoint.encode()).hexdigest()[:16]
        self.horizon_days = horizon_days
        self.counts: dict[int, dict[str, int]] = {}

    def __call__(self, records: DataFrame, batch_id: int) -> None:
        parsed = parse_records(records).persist(StorageLevel.MEMORY_AND_DISK)
        try:
            # One job parses the batch (kept for the writes) and counts what the writes need.
            summary = batch_summary(parsed)
            if summary.quarantined:
                self.write_quarantine(parsed, batch_id)
            landed = 0
            if summary.records > summary.quarantined:
                window = dedupe_window(summary.first_day, summary.last_day, self.horizon_days)
                landed = self._merge(drop_duplicate_events(valid_events(parsed)), *window)
        finally:
            parsed.unpersist()
        self.counts[batch_id] = {
            "landed": landed,
            "quarantined": summary.quarantined,
            "duplicates": summary.records - summary.quarantined - landed,
        }

    def write_quarantine(self, parsed: DataFrame, batch_id: int) -> None:
        """Append the batch's invalid records once, however often the batch runs."""
        (
            quarantined_records(parsed)
            .write.format("delta")
            .mode("append")
            .option("txnAppId", self.app_id)
            .option("txnVersion", batch_id)
            .save(self.quarantine_path)
        )

    @_retry_on_conflict
    def _merge(self, events: DataFrame, first, last) -> int:
        """Insert the events whose event_id the table's days first..last lack; how many."""
        table = DeltaTable.forPath(events.sparkSession, self.events_path)
        metrics = (
            table.alias("t")
            .merge(
                events.alias("s"),
                f"t.event_date BETWEEN DATE'{first}' AND DATE'{last}' AND t.event_id = s.event_id",
            )
            .whenNotMatchedInsertAll()
            .execute()
        )
        return int(metrics.first()["num_inserted_rows"])
