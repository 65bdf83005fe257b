"""The key index: every event_id the `events` table has ever held, for dedupe with no horizon.

A Delta table `event_keys` (event_id, its 64-bit hash `key_hash`, and `bucket`, the hash
modulo `KEY_BUCKETS`, by which the table is partitioned). The landing job appends the keys of
each batch's new events after the events themselves, with the same `txnAppId`/`txnVersion`,
so a batch run again after a crash writes them once. An erasure deletes a player's events and
keeps their keys: a retry of an erased event is a duplicate, not new data.

A batch is checked in two steps, at a cost set by its own size, not the table's:
1. A Bloom filter of every key_hash in the index, held by the landing process (built from the
   table's `key_hash` column when the process starts), answers "certainly new" for almost
   every id: 1 in `FALSE_POSITIVE_RATE`**-1 of new ids is a false hit.
2. The hits (false ones and real retries) are checked exactly against the index, reading only
   the buckets they fall in.
"""

from __future__ import annotations

import logging

from delta.tables import DeltaTable as SparkDeltaTable
from deltalake import DeltaTable
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import LongType, StructField, StructType
from rbloom import Bloom

log = logging.getLogger("questlog.keys")

KEY_BUCKETS = 16
# Sized at 1e-6, the filter takes 3.6 bytes per key (180 MB for 50M events) and a 200k batch
# of new events has 0.2 false hits on average.
FALSE_POSITIVE_RATE = 1e-6
# The filter is built for twice the keys the index holds, at least this many; past its
# capacity it is built again, twice as large.
MIN_CAPACITY = 1_000_000
KEY_COLUMNS = ["bucket", "key_hash", "event_id"]


def event_key_hash() -> Column:
    """An event's `key_hash`: xxhash64 of its event_id."""
    return F.xxhash64("event_id")


def keys_of(events: DataFrame) -> DataFrame:
    """The key index rows of events: bucket, key_hash, event_id."""
    key_hash = event_key_hash()
    return events.select(
        F.pmod(key_hash, F.lit(KEY_BUCKETS)).cast("int").alias("bucket"),
        key_hash.alias("key_hash"),
        "event_id",
    )


def ensure_key_index(spark: SparkSession, keys_path: str, events_path: str) -> None:
    """Create the key index unless it exists, holding the keys of what `events` holds then
    (a lake landed before the index existed gets it built once)."""
    if SparkDeltaTable.isDeltaTable(spark, keys_path):
        return
    events = spark.read.format("delta").load(events_path)
    keys = keys_of(events).dropDuplicates(["event_id"])
    (
        SparkDeltaTable.createIfNotExists(spark)
        .location(keys_path)
        .addColumns(keys.schema)
        .partitionedBy("bucket")
        .property("delta.dataSkippingStatsColumns", "key_hash")
        .execute()
    )
    if not events.isEmpty():
        # A file per bucket, not one per shuffle partition and bucket.
        keys.repartition("bucket").write.format("delta").mode("append").save(keys_path)


class KeyIndex:
    """The key index of one `events` table, with the Bloom filter of its hashes."""

    def __init__(self, spark: SparkSession, keys_path: str):
        self.spark = spark
        self.path = keys_path
        self.bloom: Bloom | None = None
        self.capacity = 0
        self.count = 0

    def table(self) -> DataFrame:
        return self.spark.read.format("delta").load(self.path)

    def load(self) -> None:
        """Build the filter from every key_hash in the index: one column, read by delta-rs
        straight into this process (not through the JVM's heap)."""
        hashes = DeltaTable(self.path).to_pyarrow_table(columns=["key_hash"])["key_hash"]
        hashes = hashes.to_pylist()
        self.capacity = max(MIN_CAPACITY, 2 * len(hashes))
        # key_hash is already a hash: the filter takes it as it is (`int`), the same in
        # every process.
        self.bloom = Bloom(self.capacity, FALSE_POSITIVE_RATE, hash_func=int)
        self.bloom.update(hashes)
        self.count = len(hashes)
        log.info("key index: %d keys, filter for %d", self.count, self.capacity)

    def landed(self, hashes: list[int]) -> DataFrame | None:
        """The event_ids the index holds among those of `hashes` (a batch's key_hash); None
        when the filter has no hit, so that the index certainly holds none of them.

        The index is read only in the buckets of the filter's hits, and not at all when there
        is none.
        """
        if self.bloom is None:
            self.load()
        hits = sorted({h for h in hashes if h in self.bloom})
        if not hits:
            return None
        schema = StructType([StructField("key_hash", LongType(), False)])
        hit_frame = self.spark.createDataFrame([(h,) for h in hits], schema)
        buckets = sorted({h % KEY_BUCKETS for h in hits})
        return (
            self.table()
            .where(F.col("bucket").isin(buckets))
            .join(F.broadcast(hit_frame), "key_hash")
            .select("event_id")
        )

    def append(self, keys: DataFrame, app_id: str, batch_id: int) -> None:
        """Add the keys of a batch's new events, once however often the batch runs."""
        (
            keys.select(*KEY_COLUMNS)
            # One file per bucket the batch touches, not one per task and bucket.
            .coalesce(1)
            .write.format("delta")
            .mode("append")
            .option("txnAppId", app_id)
            .option("txnVersion", batch_id)
            .option("userMetadata", f"{app_id} batch {batch_id}")
            .save(self.path)
        )

    def remember(self, hashes: list[int], added: int) -> None:
        """Add a batch's hashes to the filter once the index holds them (`added` of them are
        new to it); past the filter's capacity, build it again."""
        self.count += added
        if self.bloom is None or self.count > self.capacity:
            self.load()
        else:
            self.bloom.update(hashes)
