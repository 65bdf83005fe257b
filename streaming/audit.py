"""Completeness audit: `spark-submit streaming/audit.py` exits non-zero on any gap.

For every partition of the topic it takes the offsets the landing query has committed (from
its checkpoint), reads those records back from Kafka, and accounts for each one: landed in
the lake, quarantined, a duplicate of an event_id that landed, or erased on request
(`jobs/forget_player.py`). Anything else is a gap, named by partition and offsets. An
event_id with more than one row in the lake fails it too, however it got there. Counts per
partition and per hour are printed.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from delta.tables import DeltaTable
from prometheus_client import CollectorRegistry, Gauge
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from lake.checkpoint import committed_offsets, initial_offsets
from lake.freshness import push
from lake.io import read_events, read_quarantine, read_table
from lake.session import spark_session
from lake.settings import LakeSettings
from streaming.completeness import (
    account_for_offsets,
    missing_ranges,
    per_hour,
    per_partition,
    repeated_event_ids,
)

QUERIES = ("land_events",)


def consumed_range(spark, checkpoint_root: str, topic: str) -> tuple[dict, dict]:
    """Start and end offsets per partition that the landing query has committed."""
    starts, ends = {}, {}
    for query in QUERIES:
        start = initial_offsets(spark, f"{checkpoint_root}/{query}")
        end = committed_offsets(spark, f"{checkpoint_root}/{query}")
        if start is None or end is None:
            raise SystemExit(f"audit: {query} has committed nothing yet under {checkpoint_root}")
        for partition, offset in start.get(topic, {}).items():
            starts[partition] = max(starts.get(partition, offset), offset)
        for partition, offset in end.get(topic, {}).items():
            ends[partition] = min(ends.get(partition, offset), offset)
    return starts, ends


def main(argv: list[str] | None = None) -> int:
    settings = LakeSettings.from_env()
    parser = argparse.ArgumentParser(
        prog="spark-submit streaming/audit.py", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--topic", default=settings.topic)
    parser.add_argument("--lake-root", default=settings.lake_root)
    parser.add_argument("--hours", type=int, default=48, help="hours shown in the hourly table")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    lake = LakeSettings(**{**settings.__dict__, "lake_root": args.lake_root})

    spark = spark_session("questlog-audit", lake)
    complete = audit(spark, lake, args.topic, args.hours)
    spark.stop()
    return 0 if complete else 1


def audit(spark: SparkSession, lake: LakeSettings, topic: str, hours: int) -> bool:
    """Account for every offset the landing query committed; print the counts and any gap.
    True when there is no gap."""
    starts, ends = consumed_range(spark, lake.checkpoint_root, topic)
    records = (
        spark.read.format("kafka")
        .option("kafka.bootstrap.servers", lake.kafka_bootstrap)
        .option("subscribe", topic)
        .option("startingOffsets", json.dumps({topic: starts}))
        .option("endingOffsets", json.dumps({topic: ends}))
        # Offsets the retention already removed are reported below, not silently skipped.
        .option("failOnDataLoss", "false")
        .load()
    )
    landed = read_events(spark, lake.events_path).where(F.col("kafka_topic") == topic)
    quarantined = read_quarantine(spark, lake.quarantine_path).where(F.col("kafka_topic") == topic)
    erased = None
    if DeltaTable.isDeltaTable(spark, lake.erasures_path):
        erased = read_table(spark, lake.erasures_path).where(F.col("kafka_topic") == topic)
    outcomes = account_for_offsets(records, landed, quarantined, erased).cache()

    print(f"audit of topic {topic!r}, lake {lake.lake_root}")
    table = per_partition(outcomes).toPandas()
    print(table.to_string(index=False))
    print(per_hour(outcomes).limit(hours).toPandas().to_string(index=False))

    problems = []
    read_back = {str(row.kafka_partition): row.consumed for row in table.itertuples()}
    for partition, end in sorted(ends.items()):
        expected = end - starts.get(partition, 0)
        if read_back.get(partition, 0) != expected:
            problems.append(
                f"partition {partition}: {expected} offsets committed "
                f"[{starts.get(partition, 0)}, {end}) but Kafka returned "
                f"{read_back.get(partition, 0)} (removed by retention?)"
            )
    for partition, first, last in missing_ranges(outcomes):
        problems.append(
            f"partition {partition}: offsets {first}..{last} neither landed nor quarantined"
        )
    outcomes.unpersist()
    gaps = len(problems)
    repeated = repeated_event_ids(landed).cache()
    twice = repeated.count()
    if twice:
        examples = ", ".join(f"{r.event_id} ({r.rows} rows)" for r in repeated.limit(5).collect())
        problems.append(f"{twice} event_ids landed more than once, e.g. {examples}")
    repeated.unpersist()
    push_result(lake, gaps, twice)
    if problems:
        print("GAPS:\n  " + "\n  ".join(problems))
        return False
    print(
        "complete: every committed offset is landed, quarantined, a dropped duplicate "
        "or erased on request, and every landed event_id has one row"
    )
    return True


def push_result(lake: LakeSettings, gaps: int, duplicates: int) -> bool:
    """The audit's result, pushed to the Pushgateway for Prometheus (grouped by lake)."""
    registry = CollectorRegistry()
    values = {
        "questlog_audit_gaps": ("offset ranges neither landed nor quarantined, or missing", gaps),
        "questlog_audit_duplicate_event_ids": ("event_ids with more than one row", duplicates),
        "questlog_audit_last_run_timestamp_seconds": ("when the audit last ran", time.time()),
    }
    for name, (text, value) in values.items():
        Gauge(name, text, registry=registry).set(value)
    return push(registry, lake.pushgateway_url, "questlog_audit", lake.lake_root)


if __name__ == "__main__":
    sys.exit(main())
