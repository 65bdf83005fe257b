"""Every mart in one Spark session: `spark-submit jobs/run_marts.py --help`.

The landed events are read once and kept (memory, then disk) for all the marts; each mart is
written and registered as its own entry point does. One JVM and session start instead of one
per mart is most of the time saved.
"""

from __future__ import annotations

import argparse
import sys
import time

from pyspark import StorageLevel

from jobs.entry import register_lake_tables, transform, write
from lake.io import last_commit, read_events, register_table
from lake.session import spark_session
from lake.settings import LakeSettings
from runtime.marts import MARTS


def main(argv: list[str] | None = None) -> int:
    settings = LakeSettings.from_env()
    parser = argparse.ArgumentParser(
        prog="spark-submit jobs/run_marts.py",
        description="Compute every mart (or those named) from one read of the landed events, "
        "in one Spark session; replace each mart's Delta table in one commit and point its "
        "SQL table at it. Daily marts are computed whole (their entry points take --from/--to).",
    )
    parser.add_argument(
        "marts", nargs="*", metavar="MART", help=f"marts to compute (default: {', '.join(MARTS)})"
    )
    parser.add_argument("--events", default=settings.events_path, help="landed events")
    parser.add_argument("--no-tables", action="store_true", help="do not register SQL tables")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    names = args.marts or list(MARTS)
    unknown = sorted(set(names) - set(MARTS))
    if unknown:
        parser.error(f"unknown mart(s): {', '.join(unknown)}")

    spark = spark_session("questlog-marts", settings, catalog=not args.no_tables)
    # As many partitions as cores: the table's many small files (one per day and event type
    # and landing batch) would otherwise make every mart's scans a task per file.
    parallelism = spark.sparkContext.defaultParallelism
    events = read_events(spark, args.events).coalesce(parallelism)
    events = events.persist(StorageLevel.MEMORY_AND_DISK)
    for name in names:
        started = time.perf_counter()
        out = settings.mart_path(name)
        write(MARTS[name], transform(MARTS[name], events), out, None, None)
        # The commit's own metrics: a full overwrite wrote every row of the mart.
        version, count = last_commit(spark, out)
        if not args.no_tables:
            register_table(spark, name, out)
        elapsed = time.perf_counter() - started
        print(f"{name}: {count} rows -> {out} (table version {version}, {elapsed:.1f} s)")
    if not args.no_tables:
        register_lake_tables(spark, names, args.events, settings.quarantine_path)
    events.unpersist()
    spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
