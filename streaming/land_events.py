"""Land Kafka `events` in the lake's Delta tables, exactly once; bad records go to quarantine.

    spark-submit streaming/land_events.py [--until-caught-up | --service] [--starting-offsets ...]

In service mode the marts follow the stream in the same session (`jobs.follow`). One landing
job runs per `events` table: a second one is refused while the first holds the table's lease
(`streaming.lease`).

One streaming query reads the topic once; each micro-batch is parsed once and written by
`streaming.sink.BatchWriter`: valid events into the Delta table `events` (partitioned by
event_date, deduplicated by event_id against the batch and the key index), invalid records into
`quarantine` (raw value, reason, Kafka lineage). Both writes are idempotent, so a batch that
runs again after a crash never doubles or loses a row. Each batch prints a `BatchRecord`.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Callable

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.streaming import StreamingQuery

from jobs.follow import MartsFollower
from lake.session import spark_session
from lake.settings import LakeSettings
from streaming.batch_record import BatchRecord
from streaming.keys import KeyIndex
from streaming.lease import LandingLease, LeaseHeld
from streaming.metrics import LandingMetrics, age_consumer, oldest_unread_age_s
from streaming.sink import BatchWriter, ensure_tables

log = logging.getLogger("questlog.land_events")
# How often the driver looks for finished micro-batches to print.
PROGRESS_POLL_S = 1


def parse_args(argv: list[str], settings: LakeSettings) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="spark-submit streaming/land_events.py", description=__doc__.split("\n\n")[0]
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--until-caught-up",
        dest="mode",
        action="store_const",
        const="available-now",
        help="land everything in the topic now, then exit (Trigger.AvailableNow; the default)",
    )
    mode.add_argument(
        "--service",
        dest="mode",
        action="store_const",
        const="service",
        help="run micro-batches every --trigger-interval until stopped",
    )
    parser.set_defaults(mode="available-now")
    parser.add_argument(
        "--starting-offsets",
        default="earliest",
        help="for a fresh checkpoint: earliest, latest, or JSON offsets per partition "
        '({"events":{"0":42,"1":-2}}); ignored when the checkpoint has progress',
    )
    parser.add_argument(
        "--starting-timestamp",
        type=int,
        help="for a fresh checkpoint: start at this time (ms since epoch) in every partition",
    )
    parser.add_argument("--checkpoint-root", default=settings.checkpoint_root)
    parser.add_argument("--events-path", default=settings.events_path)
    parser.add_argument("--quarantine-path", default=settings.quarantine_path)
    parser.add_argument(
        "--keys-path", default=settings.keys_path, help="the key index of --events-path"
    )
    parser.add_argument("--topic", default=settings.topic)
    parser.add_argument("--trigger-interval", default=settings.trigger_interval)
    parser.add_argument(
        "--max-offsets-per-trigger", type=int, default=settings.max_offsets_per_trigger
    )
    parser.add_argument(
        "--marts-every",
        type=float,
        default=settings.marts_refresh_s,
        metavar="SECONDS",
        help="with --service: compute the marts again when events changed, at most this "
        "often, in this session (0: never)",
    )
    parser.add_argument(
        "--metrics-bind",
        default=settings.landing_metrics_bind,
        metavar="HOST:PORT",
        help="with --service: serve Prometheus metrics at http://HOST:PORT/metrics ('': none)",
    )
    parser.add_argument(
        "--fail-on-data-loss",
        choices=["true", "false"],
        default=str(settings.fail_on_data_loss).lower(),
        help="true (default): stop, naming the offsets, when retention removed unread offsets",
    )
    return parser.parse_args(argv)


def read_topic(spark: SparkSession, settings: LakeSettings, args) -> DataFrame:
    """The topic as a stream of Kafka records."""
    reader = (
        spark.readStream.format("kafka")
        .option("kafka.bootstrap.servers", settings.kafka_bootstrap)
        .option("subscribe", args.topic)
        .option("startingOffsets", args.starting_offsets)
        .option("maxOffsetsPerTrigger", args.max_offsets_per_trigger)
        .option("minPartitions", settings.kafka_min_partitions)
        .option("failOnDataLoss", args.fail_on_data_loss)
        # A catching-up batch reads a million records: 8 MB a partition per fetch (the
        # consumer's default is 1 MB) and a 1 MB socket buffer (64 kB) take fewer round trips.
        .option("kafka.max.partition.fetch.bytes", 8 * 1024 * 1024)
        .option("kafka.receive.buffer.bytes", 1024 * 1024)
    )
    if args.starting_timestamp is not None:
        reader = reader.option("startingTimestamp", args.starting_timestamp)
    return reader.load()


def partition_offsets(progress) -> tuple[dict[tuple[str, int], int], dict[tuple[str, int], int]]:
    """Per (topic, partition): the offset the batch read up to (the next to read), and the
    records Kafka had past it when the batch was planned."""
    ends, lag = {}, {}
    for source in progress.sources:
        # A batch replayed from the checkpoint (after a crash) reports latestOffset "null".
        latest = json.loads(source.latestOffset or "{}") or {}
        end = json.loads(source.endOffset or "{}") or {}
        for topic, partitions in latest.items():
            for partition, offset in partitions.items():
                read_to = int(end.get(topic, {}).get(partition, offset))
                ends[(topic, int(partition))] = read_to
                lag[(topic, int(partition))] = max(int(offset) - read_to, 0)
    return ends, lag


def consumer_lag(progress) -> dict[str, int]:
    """Offsets per topic that Kafka has and the batch did not read."""
    per_topic: dict[str, int] = {}
    for (topic, _), records in partition_offsets(progress)[1].items():
        per_topic[topic] = per_topic.get(topic, 0) + records
    return per_topic


class BatchPrinter:
    """Prints a `BatchRecord` per finished micro-batch: rows, where they went, time and lag.

    It reads the query's progress from the driver's own thread (no listener callback, which
    an AvailableNow run could outlive), so every batch is printed, the last one included.
    """

    def __init__(self, writer: BatchWriter, ages: Callable | None = None):
        self.writer = writer
        self.printed = -1
        # With metrics: (next offsets, lag) -> the age of each partition's oldest unread record.
        self.ages = ages

    def print_new(self, query: StreamingQuery) -> None:
        for progress in query.recentProgress:
            if progress.batchId <= self.printed:
                continue
            counts = self.writer.counts.pop(progress.batchId, {})
            record = BatchRecord(
                batch=progress.batchId,
                input_rows=progress.numInputRows,
                landed=counts.get("landed", 0),
                quarantined=counts.get("quarantined", 0),
                duplicates=counts.get("duplicates", 0),
                erased=counts.get("erased", 0),
                batch_ms=progress.batchDuration,
                input_rows_per_s=round(progress.inputRowsPerSecond or 0, 1),
                processed_rows_per_s=round(progress.processedRowsPerSecond or 0, 1),
                consumer_lag=consumer_lag(progress),
                durations_ms=dict(progress.durationMs),
            )
            print(record.to_line(), flush=True)
            self.printed = progress.batchId
            metrics = self.writer.metrics
            if metrics is not None:
                ends, lag = partition_offsets(progress)
                metrics.batch_done(progress.batchDuration / 1000, lag)
                if self.ages is not None:
                    metrics.lag_ages(self.ages(ends, lag))


def start(spark: SparkSession, settings: LakeSettings, args, writer: BatchWriter) -> StreamingQuery:
    """Create the tables if needed and start the landing query."""
    ensure_tables(spark, args.events_path, args.quarantine_path, args.keys_path)
    trigger = (
        {"availableNow": True}
        if args.mode == "available-now"
        else {"processingTime": args.trigger_interval}
    )
    return (
        read_topic(spark, settings, args)
        .writeStream.queryName("land_events")
        .foreachBatch(writer)
        .option("checkpointLocation", writer.checkpoint)
        .trigger(**trigger)
        .start()
    )


def serve_metrics(settings: LakeSettings, args) -> tuple[LandingMetrics | None, Callable | None]:
    """The service's metrics, served on --metrics-bind, and how to read its lag in seconds;
    (None, None) when the port cannot be bound: landing goes on without them."""
    metrics = LandingMetrics(trigger_seconds(args.trigger_interval))
    try:
        metrics.serve(args.metrics_bind)
    except OSError as error:
        log.warning("no metrics: %s cannot be bound (%s)", args.metrics_bind, error)
        return None, None
    log.info("metrics on http://%s/metrics", args.metrics_bind)
    consumer: list = []  # made at the first lag, so that a broker down at start stops nothing

    def ages(ends, lag):
        if not any(lag.values()):
            return dict.fromkeys(ends, 0.0)
        try:
            if not consumer:
                consumer.append(age_consumer(settings.kafka_bootstrap))
            return oldest_unread_age_s(consumer[0], ends, lag, time.time())
        except Exception as error:  # KafkaError, or the broker unreachable: no ages this time
            log.warning("the lag in seconds cannot be read: %r", error)
            return {}

    return metrics, ages


def trigger_seconds(interval: str) -> float:
    """Seconds of a trigger interval as Spark takes it ("10 seconds", "1 minute")."""
    number, _, unit = interval.strip().partition(" ")
    return float(number) * (60 if unit.startswith("min") else 1)


def land(spark: SparkSession, settings: LakeSettings, args: argparse.Namespace) -> int:
    """Run the landing query in `spark` until it ends (AvailableNow) or is stopped; 0 if it
    ended without an error. The session must allow Python tasks (the record checks)."""
    lease = LandingLease(spark, args.events_path, settings.landing_lease_s)
    lease.acquire()
    try:
        return land_holding(spark, settings, args, lease)
    finally:
        lease.release()


def land_holding(
    spark: SparkSession, settings: LakeSettings, args: argparse.Namespace, lease: LandingLease
) -> int:
    """`land`, once this job holds the table's lease; stops if another job takes it over."""
    # A new schema_version's new property becomes a new (nullable) column of `events`.
    spark.conf.set("spark.databricks.delta.schema.autoMerge.enabled", "true")
    metrics, ages = None, None
    if args.mode == "service" and args.metrics_bind:
        metrics, ages = serve_metrics(settings, args)
    writer = BatchWriter(
        args.events_path,
        args.quarantine_path,
        KeyIndex(spark, args.keys_path),
        f"{args.checkpoint_root}/land_events",
        metrics,
        erased_players_path=settings.erased_players_path,
        erasures_path=settings.erasures_path,
    )
    printer = BatchPrinter(writer, ages)
    query = start(spark, settings, args, writer)
    log.info("query land_events started: %s -> %s", args.topic, args.events_path)
    follower = None
    if args.mode == "service" and args.marts_every > 0:
        freshness = metrics.freshness if metrics is not None else None
        follower = MartsFollower(
            spark, settings, args.events_path, args.marts_every, freshness
        ).start()
    try:
        while not query.awaitTermination(PROGRESS_POLL_S):
            printer.print_new(query)
            if lease.lost.is_set():
                log.error("stopping: another landing job took this table's lease over")
                return 1
    finally:
        printer.print_new(query)
        query.stop()
        if follower is not None:
            follower.stop()
        spark.conf.unset("spark.databricks.delta.schema.autoMerge.enabled")
    if query.exception() is not None:
        log.error("the landing query failed: %s", query.exception())
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    settings = LakeSettings.from_env()
    args = parse_args(sys.argv[1:] if argv is None else argv, settings)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    logging.getLogger("py4j").setLevel(logging.WARNING)
    spark = spark_session("questlog-land-events", settings, python_tasks=True)
    # A batch is kept in memory for its writes (streaming.sink) and read back a few times:
    # compressing it cost more than it saved (docs/benchmarks.md, "Where the time goes").
    # The marts' inputs, cached in this session when the marts follow, are kept so too.
    spark.conf.set("spark.sql.inMemoryColumnarStorage.compressed", "false")
    try:
        return land(spark, settings, args)
    except LeaseHeld as refused:
        log.error("refused: %s", refused)
        return 2


if __name__ == "__main__":
    sys.exit(main())
