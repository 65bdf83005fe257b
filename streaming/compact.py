"""Compaction: `spark-submit streaming/compact.py [--date 2026-11-20 ...] [--vacuum]`.

OPTIMIZE rewrites the small files the landing micro-batches leave in `events` and the key
index into a few large ones, in
one commit that changes no row (readers of any version see the same rows). It is safe while
the landing stream runs: the landing job only appends, which never conflicts with it. VACUUM
then deletes the files no version within the retention needs (Delta's default, 7 days: older
versions stop being readable).
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date

from delta.tables import DeltaTable

from lake.session import spark_session
from lake.settings import LakeSettings
from runtime.marts import MARTS

DEFAULT_RETAIN_HOURS = 7 * 24


def optimize(spark, table_path: str, days: list[date] | None = None) -> dict:
    """OPTIMIZE the table (only the given event_date partitions, if any); Delta's metrics.

    The key index, partitioned by bucket, is optimized whole (`days` empty)."""
    where = ""
    if days:
        where = " WHERE event_date IN (" + ", ".join(f"DATE'{d}'" for d in days) + ")"
    metrics = spark.sql(f"OPTIMIZE delta.`{table_path}`{where}").first()["metrics"]
    return {
        "files_removed": metrics["numFilesRemoved"],
        "files_added": metrics["numFilesAdded"],
        "partitions_optimized": metrics["partitionsOptimized"],
    }


def vacuum(spark, table_path: str, retain_hours: int = DEFAULT_RETAIN_HOURS) -> None:
    """Delete files that no table version within `retain_hours` reads."""
    spark.sql(f"VACUUM delta.`{table_path}` RETAIN {retain_hours} HOURS")


def lake_tables(spark, settings: LakeSettings) -> list[str]:
    """Every Delta table of the lake: events, quarantine, erasures and each mart run so far."""
    paths = [settings.events_path, settings.quarantine_path, settings.erasures_path]
    paths.append(settings.keys_path)
    paths += [settings.mart_path(name) for name in MARTS]
    return [path for path in paths if DeltaTable.isDeltaTable(spark, path)]


def main(argv: list[str] | None = None) -> int:
    settings = LakeSettings.from_env()
    parser = argparse.ArgumentParser(
        prog="spark-submit streaming/compact.py", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--date", type=date.fromisoformat, action="append", help="only this day (repeatable)"
    )
    parser.add_argument("--events-path", default=settings.events_path)
    parser.add_argument(
        "--vacuum",
        action="store_true",
        help="then, in every table of the lake, delete files no version within the retention needs",
    )
    parser.add_argument(
        "--retain-hours",
        type=int,
        default=DEFAULT_RETAIN_HOURS,
        help=f"VACUUM keeps what versions of this many hours need (default {DEFAULT_RETAIN_HOURS})",
    )
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    spark = spark_session("questlog-compact", settings)
    print(json.dumps({"table": args.events_path, **optimize(spark, args.events_path, args.date)}))
    if DeltaTable.isDeltaTable(spark, settings.keys_path):
        print(json.dumps({"table": settings.keys_path, **optimize(spark, settings.keys_path)}))
    if args.vacuum:
        for path in lake_tables(spark, settings):
            vacuum(spark, path, args.retain_hours)
            print(json.dumps({"table": path, "vacuumed_retain_hours": args.retain_hours}))
    spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
