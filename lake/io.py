"""Reading and writing the lake's Delta tables through Spark.

Every table — `events`, `quarantine` and each mart — is a Delta table: Parquet files and a
transaction log. A reader sees the table as of one commit, never half of a write; a mart
rerun replaces the table in one commit, and older versions stay readable (time travel)
until VACUUM removes their files.
"""

from __future__ import annotations

import json
import logging
from datetime import date

from delta import exceptions as delta_errors
from deltalake import DeltaTable
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from tenacity import retry, retry_if_exception_type, stop_after_attempt, wait_exponential

log = logging.getLogger("questlog.lake")

# Delta's refusals of a commit for one made beside it. In Python each is a class of its own,
# none a subclass of DeltaConcurrentModificationException.
CONFLICTS = (
    delta_errors.ConcurrentAppendException,
    delta_errors.ConcurrentDeleteDeleteException,
    delta_errors.ConcurrentDeleteReadException,
    delta_errors.ConcurrentTransactionException,
    delta_errors.ConcurrentWriteException,
    delta_errors.DeltaConcurrentModificationException,
    delta_errors.MetadataChangedException,
    delta_errors.ProtocolChangedException,
)

# Commits `tagged_commit_rows` looks through: a batch's append and any made since.
HISTORY_PAGE = 8


def read_table(spark: SparkSession, path: str, version: int | None = None) -> DataFrame:
    """A Delta table as of its latest commit, or of `version`."""
    reader = spark.read.format("delta")
    if version is not None:
        reader = reader.option("versionAsOf", version)
    return reader.load(path)


def read_events(
    spark: SparkSession,
    events_path: str,
    first: date | None = None,
    last: date | None = None,
    version: int | None = None,
) -> DataFrame:
    """The landed events (each event_id once), optionally only the days first..last, as of
    the latest commit or of `version`."""
    events = read_table(spark, events_path, version)
    if first is not None:
        events = events.where(F.col("event_date") >= F.lit(first))
    if last is not None:
        events = events.where(F.col("event_date") <= F.lit(last))
    return events


def read_quarantine(spark: SparkSession, quarantine_path: str) -> DataFrame:
    """The quarantined records: raw value, reason, Kafka lineage."""
    return read_table(spark, quarantine_path)


def read_mart(spark: SparkSession, mart_path: str, version: int | None = None) -> DataFrame:
    """A mart as of its latest run, or of an earlier table `version`."""
    return read_table(spark, mart_path, version)


def write_mart(
    mart: DataFrame,
    mart_path: str,
    partition_by: list[str] | None = None,
    replace_where: str | None = None,
    events_version: int | None = None,
) -> None:
    """Replace the mart in one commit: whole, or only the rows matching `replace_where`.

    The commit's `userMetadata` records the `events` version the rows reflect, when given
    (`events_version_of` reads it back)."""
    writer = mart.write.format("delta").mode("overwrite")
    if events_version is not None:
        writer = writer.option("userMetadata", json.dumps({"events_version": events_version}))
    if replace_where:
        writer = writer.option("replaceWhere", replace_where)
    else:
        # A full run may change the mart's columns; a partial one must match them.
        writer = writer.option("overwriteSchema", "true")
    if partition_by:
        writer = writer.partitionBy(*partition_by)
    writer.save(mart_path)


def table_version(spark: SparkSession, path: str) -> int:
    """The table's latest commit version."""
    return int(spark.sql(f"DESCRIBE HISTORY delta.`{path}` LIMIT 1").first()["version"])


def retry_on_conflict(attempts: int):
    """Run a Delta write again when Delta refused it for a commit made beside it (an append
    beside a delete, two first writes of one table): for writes that are safe to repeat."""
    return retry(
        retry=retry_if_exception_type(CONFLICTS),
        stop=stop_after_attempt(attempts),
        wait=wait_exponential(multiplier=0.5, max=8),
        before_sleep=lambda state: log.warning(
            "%s: a commit beside it, trying again: %s",
            state.fn.__qualname__,
            str(state.outcome.exception()).splitlines()[0][:300],
        ),
        reraise=True,
    )


def tagged_commit_rows(path: str, tag: str) -> int:
    """Rows written by the commit whose `userMetadata` is `tag`, if it is among the table's
    newest commits, else 0. Only those are read, from the log by delta-rs (no Spark job): the
    whole history grows with every commit."""
    for commit in DeltaTable(path).history(HISTORY_PAGE):
        if commit.get("userMetadata") == tag:
            return int((commit.get("operationMetrics") or {}).get("numOutputRows", 0))
    return 0


def register_table(spark: SparkSession, name: str, path: str) -> None:
    """Point the catalog's table `name` at the Delta table at `path`.

    The table is external: dropping the name never touches the data.
    """
    spark.sql(f"DROP TABLE IF EXISTS {name}")
    spark.sql(f"CREATE TABLE {name} USING delta LOCATION '{path}'")
