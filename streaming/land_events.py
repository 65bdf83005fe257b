"""Land Kafka `events` in the lake as Parquet, exactly once; bad records go to quarantine.

    spark-submit streaming/land_events.py [--until-caught-up | --service] [--starting-offsets ...]

Two streaming queries read the topic, each with its own checkpoint and file sink:
`events` (valid, deduplicated by event_id, partitioned by event_date and event_type) and
`quarantine` (raw value, reason, Kafka lineage). A file sink commits each micro-batch in its
`_spark_metadata` log, which is what makes it exactly once: read the lake through Spark.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.streaming import StreamingQuery, StreamingQueryListener

from lake.session import spark_session
from lake.settings import LakeSettings
from streaming.transforms import (
    drop_duplicate_events,
    parse_records,
    quarantined_records,
    valid_events,
)

log = logging.getLogger("questlog.land_events")


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
    parser.add_argument("--topic", default=settings.topic)
    parser.add_argument("--trigger-interval", default=settings.trigger_interval)
    parser.add_argument(
        "--max-offsets-per-trigger", type=int, default=settings.max_offsets_per_trigger
    )
    parser.add_argument("--dedupe-watermark", default=settings.dedupe_watermark)
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
        .option("failOnDataLoss", args.fail_on_data_loss)
    )
    if args.starting_timestamp is not None:
        reader = reader.option("startingTimestamp", args.starting_timestamp)
    return reader.load()


class BatchLogger(StreamingQueryListener):
    """Logs each micro-batch: rows, rows/s, duration and how far behind Kafka it is."""

    def onQueryStarted(self, event):
        log.info("query %s started", event.name)

    def onQueryProgress(self, event):
        progress = event.progress
        lag = {}
        for source in progress.sources:
            latest = json.loads(source.latestOffset or "{}")
            end = json.loads(source.endOffset or "{}")
            for topic, partitions in latest.items():
                behind = sum(
                    max(int(offset) - int(end.get(topic, {}).get(p, offset)), 0)
                    for p, offset in partitions.items()
                )
                lag[topic] = behind
        print(
            json.dumps(
                {
                    "query": progress.name,
                    "batch": progress.batchId,
                    "input_rows": progress.numInputRows,
                    "input_rows_per_s": round(progress.inputRowsPerSecond or 0, 1),
                    "processed_rows_per_s": round(progress.processedRowsPerSecond or 0, 1),
                    "batch_ms": progress.batchDuration,
                    "consumer_lag": lag,
                }
            ),
            flush=True,
        )

    def onQueryIdle(self, event):
        pass

    def onQueryTerminated(self, event):
        if event.exception:
            log.error("query %s failed: %s", event.id, event.exception)


def start(spark: SparkSession, settings: LakeSettings, args) -> list[StreamingQuery]:
    """Start the two landing queries."""
    parsed = parse_records(read_topic(spark, settings, args))
    trigger = (
        {"availableNow": True}
        if args.mode == "available-now"
        else {"processingTime": args.trigger_interval}
    )
    events = drop_duplicate_events(valid_events(parsed), args.dedupe_watermark)
    landing = (
        events.writeStream.queryName("land_events")
        .format("parquet")
        .option("path", args.events_path)
        .option("checkpointLocation", f"{args.checkpoint_root}/land_events")
        .partitionBy("event_date", "event_type")
        .outputMode("append")
        .trigger(**trigger)
        .start()
    )
    quarantine = (
        quarantined_records(parsed)
        .writeStream.queryName("land_quarantine")
        .format("parquet")
        .option("path", args.quarantine_path)
        .option("checkpointLocation", f"{args.checkpoint_root}/land_quarantine")
        .partitionBy("landed_date")
        .outputMode("append")
        .trigger(**trigger)
        .start()
    )
    return [landing, quarantine]


def main(argv: list[str] | None = None) -> int:
    settings = LakeSettings.from_env()
    args = parse_args(sys.argv[1:] if argv is None else argv, settings)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    spark = spark_session("questlog-land-events", settings)
    spark.streams.addListener(BatchLogger())
    queries = start(spark, settings, args)
    try:
        if args.mode == "service":
            spark.streams.awaitAnyTermination()
        else:
            for query in queries:
                query.awaitTermination()
    finally:
        for query in queries:
            query.stop()
    failed = [q.name for q in queries if q.exception() is not None]
    if failed:
        log.error("landing queries failed: %s", ", ".join(failed))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
